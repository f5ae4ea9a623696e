"""Builds the architectures in the top-level `models` package, one file per model.

Modules are imported on demand, so a stage imports (and depends on) only its own model's file.
A model's hyperparameters are its constructor's keyword arguments (see core/catalog.py); their
values live in params.yaml under `models.<name>`.
"""

import importlib

import torch
from torch import nn

from mnist_pipeline.core.catalog import check_model_name
from mnist_pipeline.core.errors import PipelineError


def model_class(name: str) -> type[nn.Module]:
    return importlib.import_module(f"models.{check_model_name(name)}").Model


def build_model(name: str, **hyperparameters) -> nn.Module:
    try:
        return model_class(name)(**hyperparameters)
    except (TypeError, ValueError) as exc:
        raise PipelineError(f"model {name!r}: bad hyperparameters {hyperparameters}: {exc}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def summary(model: nn.Module) -> str:
    """torchinfo's layer table with output shapes and parameter counts for one 28x28 image.

    Runs on a CPU copy's forward pass without moving the caller's random state.
    """
    import torchinfo

    with torch.random.fork_rng(devices=[]):
        return str(torchinfo.summary(model, input_size=(1, 1, 28, 28), verbose=0, device="cpu"))
