"""Stage crossval fold@<model>-<fold>: train a model with its recipe on every other fold, and
score it on this one after its last epoch.

The folds are dealt here, from the labels and crossval.seed (a second of work): every fold stage
deals the same ones, and no file of fold numbers has to be kept, cached or pulled.
"""

import argparse

from mnist_pipeline.core import paths
from mnist_pipeline.core.catalog import hyperparameter_types
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import write_json
from mnist_pipeline.core.mnist import TRAIN_IMAGES, TRAIN_LABELS
from mnist_pipeline.core.params import crossval_params, load_params, model_recipe
from mnist_pipeline.data.folds import assign_folds, fold_split, training_images
from mnist_pipeline.training.session import require_same_params, train_model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="a model name from params.yaml's `models` section")
    parser.add_argument("fold", type=int, help="a fold number from params.yaml's crossval.folds")
    args = parser.parse_args(argv)
    name, fold = args.model, args.fold

    def read_params():
        params = load_params()
        return model_recipe(params, name, hyperparameter_types(name)), crossval_params(params)

    recipe, crossval = started_with = read_params()
    if fold not in crossval.folds:
        raise PipelineError(f"fold {fold}: not one of {paths.PARAMS_FILE}'s crossval.folds (1..{crossval.k})")
    data = training_images(paths.RAW_DIR)
    train, val = fold_split(data, assign_folds(data.labels, crossval.k, crossval.seed), fold)
    inputs = [paths.RAW_DIR / TRAIN_IMAGES, paths.RAW_DIR / TRAIN_LABELS]
    trained = train_model(name, recipe, train, val, paths.fold_resume_state(name, fold), inputs)
    require_same_params(name, started_with, read_params(), rerun="dvc repro crossval/dvc.yaml")

    run, last = trained.run, trained.run.history[-1]
    write_json(
        {
            "fold": fold,
            "folds": crossval.k,
            "folds_seed": crossval.seed,
            "train_images": len(train),
            "val_images": len(val),
            # The last epoch's, not the best epoch's: choosing the epoch on this fold would flatter it.
            "val_accuracy": round(last.val_accuracy, 6),
            "val_loss": round(last.val_loss, 6),
            "epochs_run": run.epochs_run,
            "best_epoch": run.best.epoch,
            "best_val_accuracy": round(run.best.val_accuracy, 6),
        },
        paths.fold_result(name, fold),
    )
    trained.resume.clear()
    print(f"{name}, fold {fold}/{crossval.k}: validation accuracy {last.val_accuracy:.2%} after epoch {last.epoch}")


if __name__ == "__main__":
    run_command(main)
