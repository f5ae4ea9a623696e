"""Architectures, one file each: `models/<name>.py` defines `Model`, an nn.Module whose constructor
takes only keyword hyperparameters (their values live in params.yaml under `models.<name>`).

This package depends on torch alone; mnist_pipeline.training.architectures finds and builds them.
"""
