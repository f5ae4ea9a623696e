"""Model registry: `models/<name>.py` defines `Model`, an nn.Module taking only keyword hyperparameters.

Modules are imported on demand, so a stage imports (and depends on) only its own model's file.
Adding a model is one file here plus one block under `models:` in params.yaml.
"""

import importlib
import inspect
import re
from pathlib import Path

from torch import nn

from mnist_pipeline.errors import PipelineError

_FOLDER = Path(__file__).parent


def model_names() -> list[str]:
    return sorted(p.stem for p in _FOLDER.glob("*.py") if not p.stem.startswith("_"))


def model_class(name: str) -> type[nn.Module]:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name not in model_names():
        raise PipelineError(f"unknown model {name!r} (available: {', '.join(model_names())})")
    return importlib.import_module(f"{__name__}.{name}").Model


def architecture_args(name: str) -> dict:
    """The model's constructor hyperparameters and their defaults."""
    signature = inspect.signature(model_class(name).__init__)
    return {p.name: p.default for p in list(signature.parameters.values())[1:]}


def build_model(name: str, **hyperparameters) -> nn.Module:
    try:
        return model_class(name)(**hyperparameters)
    except (TypeError, ValueError) as exc:
        raise PipelineError(f"model {name!r}: bad hyperparameters {hyperparameters}: {exc}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def summary(model: nn.Module) -> str:
    """torchinfo's layer table with output shapes and parameter counts for one 28x28 image.

    Call it on a model still on the CPU: torchinfo moves the model to the CPU to run it.
    """
    import torchinfo

    return str(torchinfo.summary(model, input_size=(1, 1, 28, 28), verbose=0, device="cpu"))
