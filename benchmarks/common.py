"""What the benchmarks share: where they write, the machine they ran on, and the recipes they time."""

import os
import platform
from pathlib import Path

from mnist_pipeline.core.catalog import hyperparameter_types
from mnist_pipeline.core.files import read_json, write_json
from mnist_pipeline.core.machine import cpu, describe_cpu
from mnist_pipeline.core.params import load_params, model_names, model_recipe

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"


def recorded(path: Path | None = None) -> dict:
    """A results file's sections (RESULTS unless named; {} before the first run); a damaged file is
    one line naming it."""
    path = path or RESULTS
    return read_json(path, "the benchmark results") if path.exists() else {}


def record(sections: dict, path: Path | None = None) -> None:
    """Write these top-level sections into a results file (RESULTS unless named), keeping every other one there."""
    write_json({**recorded(path), **sections}, path or RESULTS)


def machine() -> dict:
    """The CPU (its model name and identity, core/machine.py), cores, torch and Python of this run: a
    figure means little without them."""
    import torch

    identity = cpu()
    return {
        "cpu": identity["name"],
        "cpu_id": identity,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def machine_label() -> str:
    """'AMD EPYC (AuthenticAMD, family 25, model 17), torch 2.14.1': the CPU and torch a figure came
    from, as the docs' tables name them."""
    import torch

    return f"{describe_cpu(cpu())}, torch {torch.__version__.split('+')[0]}"


def recipes() -> dict:
    """Every model in params.yaml with its recipe, in params.yaml's order."""
    params = load_params()
    return {name: model_recipe(params, name, hyperparameter_types(name)) for name in model_names(params)}
