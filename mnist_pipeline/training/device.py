"""Device selection, CPU threads, deterministic settings and peak memory."""

import os
import sys

import torch

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.machine import cpu, usable_cpus


def select_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; `cpu`, `cuda` and `mps` are taken as asked."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    elif name == "cuda" and not torch.cuda.is_available():
        raise PipelineError("device 'cuda' was asked for, but CUDA is not available")
    elif name == "mps" and not torch.backends.mps.is_available():
        raise PipelineError("device 'mps' was asked for, but MPS is not available")
    return torch.device(name)


def fast_kernels(device: torch.device) -> bool:
    """Whether device has the fast paths training uses: channels-last and fused optimizer steps."""
    # Measured by benchmarks/speed.py on CPU: channels-last tensors (faster small convolutions
    # and max-pooling) and one fused optimizer step instead of ~40 small ops make an epoch 1.2-1.6x
    # faster. Both exist on CUDA too; MPS keeps the defaults.
    return device.type in ("cpu", "cuda")


def set_threads(threads: int) -> None:
    """Use `threads` CPU threads, at most one per core (check warns of more); 0 keeps torch's default
    of one per core.

    The thread count changes how sums are split, so results differ in the last bits between
    thread counts: it is a param, recorded with the results, not a property of the machine.
    """
    if threads:
        torch.set_num_threads(min(threads, os.cpu_count() or 1))


def make_deterministic(seed: int) -> None:
    """Seed torch and ask for deterministic kernels, so reruns give identical bytes."""
    # cuBLAS needs this set before its first use to be deterministic.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    # Every kernel used is deterministic on CPU; on CUDA a few (pooling backward) have no
    # deterministic version, so warn there rather than refuse to train.
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def peak_memory_mib() -> float | None:
    """Peak resident memory of this process so far, in MiB (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def machine(device: torch.device) -> dict:
    """What results depend on besides params and data: the CPU model (core/machine.py), the kernels
    torch picked for it, torch's version and its thread count (with `threads: 0`, set by the CPUs
    this process may use), and the GPU where one trained."""
    record = {**cpu(), "cpus": usable_cpus(), "kernels": torch.backends.cpu.get_cpu_capability(),
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(device)
    return record
