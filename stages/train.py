"""Stage train@<model>: train one model, checkpoint best and last, write its training metrics."""

import argparse
from dataclasses import asdict

import pandas as pd
import torch

import models
from mnist_pipeline.checkpoint import save_checkpoint
from mnist_pipeline.cli import run_stage
from mnist_pipeline.device import make_deterministic, peak_memory_mib, select_device, set_threads
from mnist_pipeline.io import write_csv, write_json
from mnist_pipeline.params import load_params, train_params
from mnist_pipeline.paths import checkpoint_dir, metrics_dir, prepared_split, resume_path
from mnist_pipeline.prepare import load_split, normalize
from mnist_pipeline.resume import ResumeState, fingerprint
from mnist_pipeline.training import fit, history_rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="a model name from params.yaml's `models` section")
    name = parser.parse_args(argv).model

    defaults = models.architecture_args(name)
    train_cfg, model_kwargs = train_params(load_params(), name, defaults)
    hyperparameters = {**defaults, **model_kwargs}
    device = select_device(train_cfg.device)
    set_threads(train_cfg.threads)
    make_deterministic(train_cfg.seed)
    train, val = load_split(prepared_split("train")), load_split(prepared_split("val"))
    model = models.build_model(name, **hyperparameters)
    with torch.random.fork_rng(devices=[]):  # the summary's forward pass must not move the seed
        print(models.summary(model))  # on CPU: torchinfo moves the model to the device it is given
    model.to(device)
    print(f"Training {name} on {device}: {len(train)} train / {len(val)} validation images")

    out = checkpoint_dir(name)

    def save(path, stats, state_dict):
        save_checkpoint(path, state_dict, name, hyperparameters, epoch=stats.epoch, val_accuracy=stats.val_accuracy)

    config = {"model": name, "hyperparameters": hyperparameters, "train": asdict(train_cfg), "device": device.type}
    inputs = [prepared_split("train"), prepared_split("val")]
    result = fit(
        model,
        normalize(train.images.to(device)),
        train.labels.to(device),
        normalize(val.images.to(device)),
        val.labels.to(device),
        train_cfg,
        on_best=lambda stats, state_dict: save(out / "best.pt", stats, state_dict),
        resume=ResumeState(resume_path(name), fingerprint(config, inputs)),
    )
    save(out / "last.pt", result.history[-1], model.state_dict())

    metrics = metrics_dir(name)
    write_json(
        {
            "parameters": models.count_parameters(model),
            "best_epoch": result.best_epoch,
            "best_val_accuracy": round(result.best_val_accuracy, 6),
            "best_val_loss": round(result.best_val_loss, 6),
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "device": device.type,
        },
        metrics / "train.json",
    )
    write_csv(pd.DataFrame(history_rows(result)).round(6), metrics / "history.csv")
    peak = peak_memory_mib()
    # Wall time and memory vary run to run, so they live outside the stage's hashed outputs (see dvc.yaml).
    write_json(
        {
            "train_seconds": round(result.seconds, 2),
            "seconds_per_epoch": round(result.seconds / result.epochs_run, 3),
            "peak_memory_mib": round(peak, 1) if peak is not None else None,
        },
        metrics / "timing.json",
    )
    print(
        f"{name}: best validation accuracy {result.best_val_accuracy:.2%} at epoch {result.best_epoch}, "
        f"{result.seconds:.1f} s for {result.epochs_run} epochs"
    )


if __name__ == "__main__":
    run_stage(main)
