"""Getting MNIST (verified sources, IDX files) and preparing it (validated uint8 splits)."""
