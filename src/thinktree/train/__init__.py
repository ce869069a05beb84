"""Training: preference pairs from trees, the PPM, (later) policy fine-tuning."""
