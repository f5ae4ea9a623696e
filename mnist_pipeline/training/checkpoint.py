"""Checkpoints: a state_dict plus what is needed to rebuild the model, loadable with weights_only=True."""

import math
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import save_torch
from mnist_pipeline.core.mnist import MEAN, STD
from mnist_pipeline.training.architectures import build_model

FORMAT = "mnist-pipeline-checkpoint/1"


def save_checkpoint(path: Path, state_dict: dict, name: str, hyperparameters: dict, **info) -> None:
    """Write a model's weights (on CPU, so any machine can load them) and how to rebuild it."""
    checkpoint = {
        "format": FORMAT,
        "model": name,
        "hyperparameters": dict(hyperparameters),
        "normalization": {"mean": MEAN, "std": STD},
        # Copied to the default strides, so the bytes do not depend on the layout training used.
        "state_dict": {
            k: v.detach().cpu().clone(memory_format=torch.contiguous_format) for k, v in state_dict.items()
        },
        **info,
    }
    save_torch(checkpoint, path)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint with weights_only=True; anything else is refused with a clear error."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: checkpoint not found")
    if not zipfile.is_zipfile(path):
        raise PipelineError(f"{path}: not a readable checkpoint (not a PyTorch zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # torch.load does not check the members' CRCs
    except (zipfile.BadZipFile, OSError) as exc:
        raise PipelineError(f"{path}: not a readable checkpoint ({exc})") from None
    if damaged:
        raise PipelineError(f"{path}: damaged: {damaged} fails its CRC check")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a paragraph; keep the line that names what was blocked.
        lines = [line for line in str(exc).splitlines() if "GLOBAL" in line or "global" in line]
        reason = lines[0].strip() if lines else "objects other than tensors"
        raise PipelineError(f"{path}: refused: holds more than weights and plain data ({reason})") from None
    except Exception as exc:
        raise PipelineError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise PipelineError(f"{path}: not a checkpoint of this project (format {FORMAT} expected)")
    missing = [key for key in ("model", "hyperparameters", "normalization", "state_dict") if key not in checkpoint]
    if missing:
        raise PipelineError(f"{path}: incomplete checkpoint (no {', '.join(missing)})")
    std = checkpoint["normalization"].get("std") if isinstance(checkpoint["normalization"], dict) else None
    if not isinstance(std, float) or not math.isfinite(std) or std <= 0:
        raise PipelineError(f"{path}: bad normalization {checkpoint['normalization']!r} (std must be > 0)")
    return checkpoint


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """One call from a checkpoint file to a ready model in eval mode on device."""
    return model_from_checkpoint(load_checkpoint(path), path, device)


def model_from_checkpoint(checkpoint: dict, path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model a loaded checkpoint describes; path is named in errors."""
    model = build_model(checkpoint["model"], **checkpoint["hyperparameters"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        detail = (str(exc).strip().splitlines()[1:2] or [""])[0].strip()
        detail = detail if len(detail) <= 100 else detail[:97] + "..."
        raise PipelineError(
            f"{path}: weights do not match architecture {checkpoint['model']!r}{': ' + detail if detail else ''} "
            f"(saved by another version of models/{checkpoint['model']}.py? train it again with this one)"
        ) from None
    return model.to(device).eval()
