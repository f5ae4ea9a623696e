"""Stage train@<model>: train one model, logging every epoch with DVCLive; write its best and last
checkpoints and training metrics."""

import argparse
import math

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.files import write_json
from mnist_pipeline.core.params import Recipe, load_params, model_recipe, recipe_inputs
from mnist_pipeline.core.program import program
from mnist_pipeline.core.wording import plural
from mnist_pipeline.data.splits import load_split
from mnist_pipeline.training.architectures import count_parameters
from mnist_pipeline.training.checkpoint import save_checkpoint
from mnist_pipeline.training.device import machine, peak_memory_mib
from mnist_pipeline.training.live import epoch_logger
from mnist_pipeline.training.loop import Run
from mnist_pipeline.training.session import require_same_params, train_model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__)
    parser.add_argument("model", help="a model name from params.yaml's `models` section")
    name = parser.parse_args(argv).model

    params = load_params()
    recipe = model_recipe(params, name)
    train, val = load_split(paths.prepared_split("train")), load_split(paths.prepared_split("val"))
    inputs = [paths.prepared_split("train"), paths.prepared_split("val")]
    with epoch_logger(paths.live_dir(name)) as log_epoch:
        trained = train_model(name, recipe, train, val, paths.resume_state(name), inputs, on_epoch=log_epoch)
    require_same_params(name, recipe_inputs(params, name), recipe_inputs(load_params(), name))
    run = trained.run
    write_outputs(name, recipe, run, trained.model, trained.device)
    trained.resume.clear()  # only now: a run killed before this point resumes instead of starting over
    print(
        f"{name}: best validation accuracy {run.best.val_accuracy:.2%} at epoch {run.best.epoch}, "
        f"{run.seconds:.1f} s for {plural(epochs_trained(run, recipe.train.epochs), 'epoch')}"
    )


def epochs_trained(run: Run, planned: float) -> float:
    """The epochs of training done: the planned count (1.1 for a fractional last epoch) unless
    training stopped early."""
    done = planned if not run.stopped_early and run.epochs_run == math.ceil(planned) else run.epochs_run
    return int(done) if float(done).is_integer() else done


def write_outputs(name: str, recipe: Recipe, run: Run, model, device) -> None:
    """Checkpoints, training metrics and timing, each written atomically."""
    for which, stats, state_dict in (("best", run.best, run.best_state), ("last", run.history[-1], model.state_dict())):
        save_checkpoint(
            paths.checkpoint(name, which), state_dict, name, recipe.hyperparameters,
            epoch=stats.epoch, val_accuracy=stats.val_accuracy,
        )
    write_json(
        {
            "parameters": count_parameters(model),
            "best_epoch": run.best.epoch,
            "best_val_accuracy": round(run.best.val_accuracy, 6),
            "best_val_loss": round(run.best.val_loss, 6),
            "epochs_run": epochs_trained(run, recipe.train.epochs),
            "stopped_early": run.stopped_early,
            "device": device.type,
            "machine": machine(device),  # the same params give the same bytes only on the same machine
        },
        paths.model_metrics(name, "train.json"),
    )
    peak = peak_memory_mib()
    # Wall time and memory vary run to run, so they live outside the stage's hashed outputs (see dvc.yaml).
    write_json(
        {
            "train_seconds": round(run.seconds, 2),
            "seconds_per_epoch": round(run.seconds / epochs_trained(run, recipe.train.epochs), 3),
            "peak_memory_mib": round(peak, 1) if peak is not None else None,
        },
        paths.timing(name),
    )


if __name__ == "__main__":
    run_command(main, kept="training resumes from its last completed epoch")
