"""Supervised fine-tuning of the policy: trajectories chosen from searches (and
converted GSM8K reference solutions), rendered in the zero-shot step format, and
the LoRA training on them."""
