"""The process preference model: pairs from search trees, their features, the heads
fitted on them, and the PPM an evolve round trains."""
