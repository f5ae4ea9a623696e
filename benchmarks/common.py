"""What the benchmarks share: where they write, and the recipes they time."""

from pathlib import Path

from mnist_pipeline.core.catalog import hyperparameter_types
from mnist_pipeline.core.files import read_json, write_json
from mnist_pipeline.core.params import load_params, model_names, model_recipe

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"


def record(sections: dict) -> None:
    """Write these top-level sections into RESULTS, keeping every other benchmark's."""
    results = read_json(RESULTS, "the benchmark results") if RESULTS.exists() else {}
    write_json({**results, **sections}, RESULTS)


def recipes() -> dict:
    """Every model in params.yaml with its recipe, in params.yaml's order."""
    params = load_params()
    return {name: model_recipe(params, name, hyperparameter_types(name)) for name in model_names(params)}
