"""One model trained from its recipe on a (train, val) pair: what the train stage and each
cross-validation fold share."""

import copy
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import IMAGE_SHAPE, NUM_CLASSES
from mnist_pipeline.core.params import Recipe
from mnist_pipeline.core.paths import PARAMS_FILE
from mnist_pipeline.data.splits import Split, normalize
from mnist_pipeline.training.architectures import build_model, summary
from mnist_pipeline.training.cores import claim_cores
from mnist_pipeline.training.device import (
    make_deterministic,
    select_device,
    set_threads,
)
from mnist_pipeline.training.loop import Run, fit
from mnist_pipeline.training.resume import ResumeState, fingerprint, project_code


@dataclass
class Trained:
    run: Run
    model: nn.Module
    device: torch.device
    resume: ResumeState | None  # cleared by the caller once its outputs are written


def train_model(name: str, recipe: Recipe, train: Split, val: Split, resume_path: Path | None, inputs: list[Path],
                on_epoch=lambda stats: None, claim: bool = True) -> Trained:
    """Seed, build and train model `name`, resuming from resume_path if a killed run of the same
    recipe, input files (inputs) and code left its state there (None: no resume state).

    A CPU training claims its cores (training/cores.py) unless claim is False: in a Ray task, whose
    CPUs Ray's scheduler has given it."""
    device = select_device(recipe.train.device)
    set_threads(recipe.train.threads)
    make_deterministic(recipe.train.seed)
    model = build_model(name, **recipe.hyperparameters)
    check_forward(name, model)
    print(summary(model))
    model.to(device)
    print(f"Training {name} on {device}: {len(train)} train / {len(val)} validation images")

    run_config = {"model": name, **asdict(recipe), "device": device.type}
    resume = ResumeState(resume_path, fingerprint(run_config, [*inputs, *project_code()])) if resume_path else None
    with claim_cores(f"training {name}") if claim and device.type == "cpu" else nullcontext():
        run = fit(
            model,
            normalize(train.images.to(device)), train.labels.to(device),
            normalize(val.images.to(device)), val.labels.to(device),
            recipe.train, resume=resume, on_epoch=on_epoch,
        )
    return Trained(run, model, device, resume)


def check_forward(name: str, model: nn.Module) -> None:
    """A model whose forward pass fails, or answers in another shape than [batch, 10], is the model
    file's fault, said in one line before training. It runs on a copy, in training and evaluation
    mode, without gradients and with the random state put back: training is as without the check."""
    batch = torch.zeros(2, 1, *IMAGE_SHAPE)
    contract = f"a model must return logits of shape [batch, {NUM_CLASSES}] (here [{len(batch)}, {NUM_CLASSES}])"
    probe = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for training in (True, False):
            mode = "training" if training else "evaluation"
            probe.train(training)
            try:
                logits = probe(batch)
            except Exception as exc:
                why = (str(exc).strip().splitlines() or [""])[0]
                raise PipelineError(f"models/{name}.py: Model's forward failed on an input of shape {list(batch.shape)} "
                                    f"in {mode} mode ({type(exc).__name__}: {why}); {contract}") from None
            if not (isinstance(logits, torch.Tensor) and logits.is_floating_point()
                    and tuple(logits.shape) == (len(batch), NUM_CLASSES)):
                raise PipelineError(f"models/{name}.py: Model's forward returned {_described(logits)} for an input of "
                                    f"shape {list(batch.shape)} in {mode} mode; {contract}")


def _described(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {list(value.shape)} ({str(value.dtype).removeprefix('torch.')})"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def require_same_params(name: str, started_with, now, rerun: str = "dvc repro") -> None:
    """Refuse to write results when params.yaml changed what `name` trained with while it trained
    (DVC would record the new params beside results of the old ones)."""
    if now != started_with:
        raise PipelineError(
            f"{PARAMS_FILE}: the recipe of models.{name} changed while it trained; nothing was written, "
            f"run `{rerun}` again"
        )
