"""Library behind the DVC stages, in layers: core (plumbing) <- data <- evaluation <- training.

Commands for people (not stages): `python -m mnist_pipeline.predict`, `python -m mnist_pipeline.readme`.
"""
