"""Finds and builds the architectures in the top-level `models` package, one file per model.

Modules are imported on demand, so a stage imports (and depends on) only its own model's file.
A model's hyperparameters are its constructor's keyword arguments; their values live in
params.yaml under `models.<name>`, their types in the constructor's annotations.
"""

import importlib
import inspect
import re
from pathlib import Path

import torch
from torch import nn

import models
from mnist_pipeline.core.errors import PipelineError

_FOLDER = Path(models.__file__).parent


def model_files() -> list[str]:
    """Names of the architectures that have a file in models/."""
    return sorted(p.stem for p in _FOLDER.glob("*.py") if not p.stem.startswith("_"))


def model_class(name: str) -> type[nn.Module]:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name not in model_files():
        raise PipelineError(f"unknown model {name!r} (available: {', '.join(model_files())})")
    return importlib.import_module(f"models.{name}").Model


def hyperparameter_types(name: str) -> dict[str, type]:
    """The constructor's keyword arguments and their annotated types."""
    signature = inspect.signature(model_class(name).__init__)
    return {p.name: p.annotation for p in list(signature.parameters.values())[1:]}


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
