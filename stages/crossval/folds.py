"""Stage crossval folds@<model>: every fold of one model, as Ray tasks (training/ray_folds.py):
train the model with its recipe on all folds but one and score it on that one after its last
epoch, for each fold at once as far as the CPUs (or GPU shares) go.

A change to one model's params reruns only its stage. Its results are written as each fold ends,
into an output DVC keeps across runs (`persist`), so a failed or killed run deletes nothing and
the next run trains only the folds it lacks.
"""

import argparse
from pathlib import Path

from mnist_pipeline.core import paths
from mnist_pipeline.core.catalog import hyperparameter_types
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import TRAIN_IMAGES, TRAIN_LABELS
from mnist_pipeline.core.params import crossval_params, load_params, model_recipe
from mnist_pipeline.core.program import program
from mnist_pipeline.data.folds import training_images
from mnist_pipeline.training.ray_address import require_cluster
from mnist_pipeline.training.ray_folds import clear_markers, run_folds
from mnist_pipeline.training.resume import fingerprint
from mnist_pipeline.training.session import require_same_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__)
    parser.add_argument("model", help="a model name from params.yaml's `models` section")
    name = parser.parse_args(argv).model
    require_cluster()  # RAY_ADDRESS: told in seconds, before the data is read

    def read_params():
        params = load_params()
        return model_recipe(params, name, hyperparameter_types(name)), crossval_params(params)

    recipe, crossval = started_with = read_params()
    results = paths.CROSSVAL_RESULTS_DIR / name
    inputs = [paths.RAW_DIR / TRAIN_IMAGES, paths.RAW_DIR / TRAIN_LABELS]
    read = fingerprint({}, inputs)
    finished = run_folds(name, recipe, crossval, training_images(paths.RAW_DIR), results, paths.fold_markers(name), inputs)
    require_same_params(name, started_with, read_params(), rerun="dvc repro crossval/dvc.yaml")
    require_same_inputs(inputs, read)
    for stale in results.glob("fold_*.json"):  # from an earlier, larger crossval.folds
        if int(stale.stem.removeprefix("fold_")) not in crossval.folds:
            stale.unlink()
    clear_markers(paths.fold_markers(name))
    mean = sum(r["val_accuracy"] for r in finished.values()) / len(finished)
    print(f"{name}: {crossval.k} folds, mean validation accuracy {mean:.2%}")


def require_same_inputs(inputs: list[Path], read: str) -> None:
    """DVC records the inputs' hashes after the stage: files replaced while the folds trained would be
    recorded beside results of the old ones. Refused instead; the next run retrains every fold (a fold's
    done marker holds the inputs it trained on)."""
    if fingerprint({}, inputs) != read:
        raise PipelineError(f"{' or '.join(map(str, inputs))} changed while the folds trained; "
                            "the results hold the old data, run `dvc repro crossval/dvc.yaml` again")


if __name__ == "__main__":
    run_command(main, kept="finished folds are kept; the next run trains the others")
