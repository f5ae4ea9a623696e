"""Training: the model registry, the loop, resume state, checkpoints and devices."""
