"""Refusals that no key's declaration in the schema (core/params.py) can make: those that depend on the
data's size or on the machine.

Each one is a function here, called by the stage that would otherwise fail and by `check` before it,
so a value that a stage would refuse stops `dvc repro` before DVC deletes anything
(tests/test_limits.py runs every refusal through both). Warnings are for values that are legal but
almost surely a mistake; `check` prints them and goes on.
"""

import ctypes
import importlib.util
import math
import os
import platform
import re
import sys
from pathlib import Path

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.machine import has_native_bfloat16
from mnist_pipeline.core.paths import PARAMS_FILE
from mnist_pipeline.core.wording import plural

# Fewer onecycle warm-up steps than this is legal but almost surely a mistake.
FEW_STEPS = 10


def require_val_size(val_size: int, train_images: int) -> None:
    """preprocess holds val_size of the training images out; at least one must be left to train on."""
    if val_size >= train_images:
        raise PipelineError(
            f"{PARAMS_FILE}: preprocess.val_size: invalid value {val_size} "
            f"(allowed: 1..{train_images - 1}, the training set has {train_images:,} images)"
        )


def require_warmup(warmup: float, epochs: float, steps: int, total: int, batch_size: int, where: str) -> None:
    """onecycle warms up over warmup of its total steps (epochs of steps each), which must be more than
    one (torch's OneCycleLR divides by zero otherwise). where names the recipe, e.g. `models.model_4`."""
    if warmup * total <= 1:
        raise PipelineError(
            f"{PARAMS_FILE}: {where}: onecycle's warmup {warmup:g} of {plural(total, 'step')} "
            f"({plural(epochs, 'epoch')} of {plural(steps, 'batch', 'batches')} of {batch_size}) is not more than one step; "
            "raise epochs or warmup, or lower batch_size"
        )


def require_folds(k: int, smallest_class: int) -> None:
    """Stratified folds need at least one image of every class in each fold."""
    if k > smallest_class:
        raise PipelineError(
            f"{PARAMS_FILE}: crossval.folds: {k} folds, but a class has only {smallest_class:,} training images "
            f"(allowed: 2..{smallest_class} folds)"
        )


def require_device(name: str, where: str) -> None:
    """An explicit `cuda` or `mps` that this machine cannot give, found without importing torch
    (which would cost every check ~2 s): the stage's own torch check is the final word."""
    if name == "cuda" and not cuda_present():
        raise PipelineError(
            f"{PARAMS_FILE}: {where}.device: invalid value 'cuda' (CUDA is not available here: "
            f"{'this torch is a CPU build' if not torch_has_cuda() else 'no CUDA driver or GPU found'}; "
            "allowed here: auto, cpu)"
        )
    if name == "mps" and not (sys.platform == "darwin" and platform.machine() == "arm64"):
        raise PipelineError(
            f"{PARAMS_FILE}: {where}.device: invalid value 'mps' (MPS needs a Mac with Apple silicon; allowed here: "
            f"auto, cpu{', cuda' if cuda_present() else ''})"
        )


def torch_has_cuda() -> bool:
    """Whether the installed torch was built with CUDA, read from torch/version.py."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return True  # cannot tell: leave it to the stage
    found = re.search(r"^cuda\b[^=\n]*=\s*(.+)$", text, re.M)
    return found is not None and found.group(1).strip() != "None"


def cuda_present() -> bool:
    """A CUDA build of torch, a driver, and at least one GPU (what torch.cuda.is_available() asks)."""
    if not torch_has_cuda():
        return False
    try:
        driver = ctypes.WinDLL("nvcuda.dll") if sys.platform == "win32" else ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return driver.cuInit(0) == 0 and driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


def recipe_warnings(batch_size: int, schedule: str, warmup: float, total: int, images: int, where: str) -> list[str]:
    """One line for each legal choice that is almost surely a mistake (total: the recipe's steps)."""
    warnings = []
    if batch_size > images:
        warnings.append(
            f"{PARAMS_FILE}: {where}: batch_size {batch_size:,} is more than the {images:,} training images: "
            "every epoch is one step on the whole set (and needs its memory)"
        )
    if schedule == "onecycle" and 1 < warmup * total < FEW_STEPS:
        warnings.append(f"{PARAMS_FILE}: {where}: onecycle warms up over only {plural(math.floor(warmup * total), 'step')}")
    return warnings


def threads_warning(threads: int, where: str) -> list[str]:
    """More threads than cores only adds waiting (2,001 threads on 2 cores never finished an epoch), so
    training uses at most one per core; a teammate's `threads: 8` is still valid on a 2-core laptop."""
    cores = os.cpu_count() or 1
    if threads <= cores:
        return []
    return [f"{PARAMS_FILE}: {where}.threads: {threads} is more than this machine's {plural(cores, 'core')}: "
            f"training here uses {cores}"]


def precision_warning(precision: str, where: str) -> list[str]:
    """bfloat16 on a CPU without it natively is emulated: correct, but slower than float32."""
    if precision != "bfloat16" or has_native_bfloat16() is not False:
        return []
    return [f"{PARAMS_FILE}: {where}.precision: bfloat16 is emulated on this CPU (no AVX512-BF16 or AMX): "
            "training is slower than with float32 here"]
