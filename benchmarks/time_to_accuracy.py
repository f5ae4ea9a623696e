"""Training seconds until validation accuracy first reaches a target (99.0%), per model.

    python -m benchmarks.time_to_accuracy [--target 0.99] [--models model_3]

Needs the prepared data (`dvc repro preprocess`). Each model trains with its recipe from
params.yaml through the pipeline's own `fit` and stops at the first epoch whose validation
accuracy reaches the target; the clock stops there, before the test set is scored. The test
accuracy is reported for that epoch only: the epoch is chosen on validation. `python -m benchmarks.speed` runs it too; alone, it updates benchmarks/results.json's "time_to_accuracy".
"""

import argparse
import json
import os
import time

import torch

from benchmarks.common import RESULTS, ROOT, recipes
from mnist_pipeline.core import paths
from mnist_pipeline.core.files import write_json
from mnist_pipeline.data.splits import load_split, normalize
from mnist_pipeline.evaluation.scoring import score
from mnist_pipeline.training.architectures import build_model
from mnist_pipeline.training.device import make_deterministic, set_threads
from mnist_pipeline.training.loop import fit

TARGET = 0.99


class Reached(Exception):
    """Stops `fit` at the epoch that reached the target."""


def time_to_accuracy(name: str, recipe, data: dict, target: float) -> dict:
    set_threads(recipe.train.threads)
    make_deterministic(recipe.train.seed)
    model = build_model(name, **recipe.hyperparameters)
    test_x, test_y = data["test"]
    start = time.perf_counter()
    reached: dict = {}

    def on_epoch(stats) -> None:
        if stats.val_accuracy >= target:
            seconds = time.perf_counter() - start  # before the test set is scored
            reached.update(epoch=stats.epoch, seconds=round(seconds, 2), val_accuracy=stats.val_accuracy,
                           test_accuracy=score(model, test_x, test_y)[1])
            raise Reached

    try:
        run = fit(model, *data["train"], *data["val"], recipe.train, log=lambda line: None, on_epoch=on_epoch)
        return {"reached": False, "epochs": run.epochs_run, "seconds": round(run.seconds, 2),
                "best_val_accuracy": run.best.val_accuracy}
    except Reached:
        return {"reached": True, **reached}


def prepared_data() -> dict:
    """The prepared splits as normalized (images, labels), keyed train, val and test."""
    splits = {name: load_split(paths.prepared_split(name)) for name in ("train", "val", "test")}
    return {name: (normalize(split.images), split.labels) for name, split in splits.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=TARGET, help="validation accuracy to reach")
    parser.add_argument("--models", nargs="+", help="only these models (default: all in params.yaml)")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    data = prepared_data()
    figures = {}
    for name, recipe in recipes().items():
        if args.models and name not in args.models:
            continue
        figures[name] = time_to_accuracy(name, recipe, data, args.target)
        print(f"{name}: {json.dumps(figures[name])}", flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["time_to_accuracy"] = {"target": args.target, "threads": torch.get_num_threads(), "models": figures}
    write_json(results, RESULTS)


if __name__ == "__main__":
    main()
