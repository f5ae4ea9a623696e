"""Library behind the DVC stages, in layers: core (plumbing) <- data <- evaluation <- training.

Commands for people (not stages): `mnist-predict` (`python -m mnist_pipeline.predict`), `python -m
mnist_pipeline.sync` (after adding a model), `python -m mnist_pipeline.readme` (after new results).
"""

import importlib.util
import os
from pathlib import Path


def _torch_ships_libgomp() -> bool:
    """Whether the installed torch runs on its own copy of libgomp (PyPI's Linux wheels), found
    without importing torch. Builds on another OpenMP runtime (LLVM's, Intel's) ignore libgomp's
    settings."""
    spec = importlib.util.find_spec("torch")
    folder = Path(spec.origin).parent / "lib" if spec and spec.origin else None
    return bool(folder and folder.is_dir() and any(folder.glob("libgomp*")))


# How OpenMP threads wait for work: OpenMP reads it once, when torch loads it, so it is set here,
# before any torch import (a setting already in the environment is kept). It changes only when and
# where the same sums run, never a result. Trainings claim their cores and take turns
# (training/cores.py), so a training's threads have their cores to themselves: with libgomp they spin
# for a short while before sleeping, which made a model_2 epoch 1.3x faster alone than sleeping at
# once, and no slower beside a busy core (benchmarks/contention.py measures both; where trainings
# could not take turns, spinning would cost them: that is a warning of claim_cores). With another
# runtime they sleep at once (PASSIVE), as before.
THREAD_WAIT = {"GOMP_SPINCOUNT": "10000"} if _torch_ships_libgomp() else {"OMP_WAIT_POLICY": "PASSIVE"}
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ.update(THREAD_WAIT)
