"""Library behind the DVC stages: data, training, evaluation and checkpoints for MNIST."""
