"""Benchmarks: speed (`python -m benchmarks.speed`), contention, the ablation, predict controls."""

import mnist_pipeline  # noqa: F401  (first: it sets OpenMP's wait policy before torch loads)
