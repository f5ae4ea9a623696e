"""The training loop: batches are slices of normalized tensors already on the device."""

import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import TrainParams
from mnist_pipeline.core.wording import plural
from mnist_pipeline.evaluation.scoring import score
from mnist_pipeline.training.augment import random_affine, random_low_resolution
from mnist_pipeline.training.device import fast_kernels
from mnist_pipeline.training.optim import (
    PER_STEP_SCHEDULES,
    make_optimizer,
    make_scheduler,
)
from mnist_pipeline.training.resume import ResumeState
from mnist_pipeline.training.steps import steps_per_epoch, total_steps


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float


@dataclass
class Run:
    """What training has done so far: every epoch's stats and the best weights by validation accuracy."""

    history: list[EpochStats] = field(default_factory=list)
    best: EpochStats | None = None
    best_state: dict = field(default_factory=dict)
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    def record(self, stats: EpochStats, model: nn.Module) -> None:
        self.history.append(stats)
        if self.best is None or stats.val_accuracy > self.best.val_accuracy:
            self.best = stats
            self.best_state = cpu_copy(model.state_dict())

    def epochs_without_improvement(self) -> int:
        return self.history[-1].epoch - self.best.epoch

    def state_dict(self) -> dict:
        return {
            "history": [asdict(s) for s in self.history], "best": asdict(self.best), "best_state": self.best_state,
            "stopped_early": self.stopped_early, "seconds": self.seconds,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> "Run":
        return cls(**{**state, "history": [EpochStats(**s) for s in state["history"]], "best": EpochStats(**state["best"])})


def cpu_copy(state_dict: dict) -> dict:
    """Weights on the CPU in the default layout, detached from training."""
    return {k: v.detach().cpu().clone(memory_format=torch.contiguous_format) for k, v in state_dict.items()}


def fit(model: nn.Module, train_x, train_y, val_x, val_y, params: TrainParams, log=tqdm.write,
        resume: ResumeState | None = None, on_epoch=lambda stats: None) -> Run:
    """Train with params' optimizer, schedule and augmentation, keeping the weights of the best
    validation accuracy, stopping early if asked. on_epoch(stats) is called after every epoch.

    With params.ema, validation, the best weights and the model handed back are those of the
    exponential moving average of the weights (and BatchNorm statistics), updated after every step.

    With resume, the whole training state is saved after every epoch, and a saved state of the
    same run is continued from: the result equals an uninterrupted run's, and on_epoch is first
    called with each epoch the saved state had already run.
    """
    model, train_x, val_x = training_layout(model, train_x, val_x)
    steps = steps_per_epoch(len(train_y), params.batch_size)
    last_step, epochs = total_steps(params.epochs, steps), math.ceil(params.epochs)
    optimizer = make_optimizer(model, params)
    scheduler = make_scheduler(optimizer, params, steps)
    per_step = params.schedule in PER_STEP_SCHEDULES
    generator = torch.Generator().manual_seed(params.seed)
    averaged = weight_average(model, params.ema)
    evaluated = averaged.module if averaged else model
    stateful = {"model": model, "optimizer": optimizer, "scheduler": scheduler, **({"averaged": averaged} if averaged else {})}

    def after_step() -> None:
        if per_step:
            scheduler.step()
        if averaged:
            averaged.update_parameters(model)
    run = restore(resume, stateful, generator) if resume else Run()
    for stats in run.history:
        on_epoch(stats)
    started = time.perf_counter() - run.seconds

    while run.epochs_run < epochs and not run.stopped_early:
        epoch, lr = run.epochs_run + 1, optimizer.param_groups[0]["lr"]
        epoch_steps = min(steps, last_step - run.epochs_run * steps)  # a fractional last epoch stops early
        with tqdm(desc=f"Epoch {epoch}/{params.epochs:g}", total=epoch_steps, leave=False, disable=None) as bar:
            train_loss, train_acc = train_epoch(model, optimizer, train_x, train_y, params, generator,
                                                after_step=after_step, progress=bar, steps=epoch_steps)
        check_finite(train_loss, epoch, params)
        val_loss, val_acc, _ = score(evaluated, val_x, val_y)
        stats = EpochStats(epoch, train_loss, train_acc, val_loss, val_acc, lr)
        log(format_epoch(stats, params.epochs))
        run.record(stats, evaluated)
        on_epoch(stats)

        if not per_step:
            scheduler.step(val_acc)
            if optimizer.param_groups[0]["lr"] < lr:
                log(f"Learning rate reduced to {optimizer.param_groups[0]['lr']:.2e}")
        if params.early_stopping_patience and run.epochs_without_improvement() >= params.early_stopping_patience:
            log(f"Early stopping: no improvement in validation accuracy for {plural(run.epochs_without_improvement(), 'epoch')}")
            run.stopped_early = True
        run.seconds = time.perf_counter() - started
        if resume:
            save(resume, run, stateful, generator)

    if averaged:
        model.load_state_dict(averaged.module.state_dict())
    model.to(memory_format=torch.contiguous_format)  # hand the model back in the usual layout
    return run


def weight_average(model: nn.Module, decay: float) -> AveragedModel | None:
    """torch's running average of the model's weights and buffers with this decay per step; None for 0."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def train_epoch(model, optimizer, x, y, params: TrainParams, generator: torch.Generator, after_step=None,
                progress=None, steps: int | None = None):
    """One pass over (x, y) in a seeded random order (its first `steps` batches, if given), augmented
    as params say; returns (mean loss, accuracy) on the augmented batches.

    Loss and correct counts are summed on the device and read once at the end, so the loop
    never waits for the device mid-epoch.
    """
    model.train()
    n = len(y)
    augment = params.augment_rotate or params.augment_translate or params.augment_scale  # all 0: draw nothing
    order = torch.randperm(n, generator=generator).to(x.device)
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    seen = n if steps is None else min(n, steps * params.batch_size)
    precision = torch.autocast(x.device.type, dtype=torch.bfloat16) if params.precision == "bfloat16" else nullcontext()
    for start in range(0, seen, params.batch_size):
        idx = order[start : start + params.batch_size]
        inputs, targets = x[idx], y[idx]
        if augment:
            inputs = random_affine(inputs, generator, params.augment_rotate, params.augment_translate,
                                   params.augment_scale)
        if params.augment_low_res:
            inputs = random_low_resolution(inputs, generator, params.augment_low_res)
        with precision:
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets, label_smoothing=params.label_smoothing)  # float32 under autocast
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == targets).sum()
        if progress is not None:
            progress.update(1)
    return loss_sum.item() / seen, correct.item() / seen


def check_finite(train_loss: float, epoch: int, params: TrainParams) -> None:
    """Stop on a NaN or infinite loss, naming the learning rate the user set (a schedule's current
    rate would be a number they never wrote)."""
    if not math.isfinite(train_loss):
        raise PipelineError(
            f"training diverged in epoch {epoch} (training loss {train_loss}); "
            f"the learning rate {params.lr:g} is likely too high"
        )


def save(resume: ResumeState, run: Run, stateful: dict, generator: torch.Generator) -> None:
    """Everything the next epoch depends on, so a killed run can continue exactly."""
    device = next(stateful["model"].parameters()).device
    resume.save({
        "run": run.state_dict(),
        **{name: obj.state_dict() for name, obj in stateful.items()},
        "generator": generator.get_state(),
        "cpu_rng": torch.get_rng_state(),
        **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}),
    })


def restore(resume: ResumeState, stateful: dict, generator: torch.Generator) -> Run:
    """The saved run, with every stateful object put back as it was; a fresh Run if none is saved."""
    saved = resume.load()
    if saved is None:
        return Run()
    for name, obj in stateful.items():
        obj.load_state_dict(saved[name])
    generator.set_state(saved["generator"])
    torch.set_rng_state(saved["cpu_rng"])
    device = next(stateful["model"].parameters()).device
    if device.type == "cuda" and "cuda_rng" in saved:
        torch.cuda.set_rng_state(saved["cuda_rng"], device)
    return Run.from_state_dict(saved["run"])


def format_epoch(stats: EpochStats, epochs: int) -> str:
    """The original project's per-epoch block."""
    return (
        f"Epoch: {stats.epoch}/{epochs:g}\n"
        f"Training Loss: {stats.train_loss:.3f}\n"
        f"Training Accuracy: {stats.train_accuracy:.2%}\n"
        f"Validation Accuracy: {stats.val_accuracy:.2%}\n" + "-" * 50
    )


def training_layout(model: nn.Module, *images: torch.Tensor):
    """The model and image batches in the memory layout training runs fastest in on their device.

    Only strides change: values, parameter names and shapes stay as they are.
    """
    if not fast_kernels(images[0].device):
        return (model, *images)
    layout = torch.channels_last
    return (model.to(memory_format=layout), *(x.contiguous(memory_format=layout) for x in images))
