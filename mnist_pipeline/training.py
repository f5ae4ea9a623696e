"""The training loop: batches are slices of normalized tensors already on the device."""

import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from mnist_pipeline.evaluation import score
from mnist_pipeline.params import TrainParams
from mnist_pipeline.resume import ResumeState

EVAL_BATCH_SIZE = 1000


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float


@dataclass(frozen=True)
class FitResult:
    history: list[EpochStats]
    best_epoch: int
    best_val_accuracy: float
    best_val_loss: float
    stopped_early: bool
    seconds: float

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def _fast_kernels(device: torch.device) -> bool:
    # Measured by benchmarks/speed.py on CPU: channels-last tensors (faster small convolutions
    # and max-pooling) and one fused Adam step instead of ~40 small ops make an epoch 1.2-1.6x
    # faster. Both exist on CUDA too; MPS keeps the defaults.
    return device.type in ("cpu", "cuda")


def training_layout(model: nn.Module, *images: torch.Tensor):
    """The model and image batches in the memory layout training runs fastest in on their device.

    Only strides change: values, parameter names and shapes stay as they are.
    """
    device = images[0].device
    if not _fast_kernels(device):
        return (model, *images)
    layout = torch.channels_last
    return (model.to(memory_format=layout), *(x.contiguous(memory_format=layout) for x in images))


def make_optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    device = next(model.parameters()).device
    return torch.optim.Adam(
        model.parameters(), lr=params.lr, weight_decay=params.weight_decay, fused=_fast_kernels(device)
    )


def train_epoch(model, optimizer, x, y, batch_size: int, generator: torch.Generator, progress=None):
    """One pass over (x, y) in a seeded random order; returns (mean loss, accuracy).

    Loss and correct counts are summed on the device and read once at the end, so the loop
    never waits for the device mid-epoch.
    """
    model.train()
    n = len(y)
    order = torch.randperm(n, generator=generator).to(x.device)
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        inputs, targets = x[idx], y[idx]
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == targets).sum()
        if progress is not None:
            progress.update(1)
    return loss_sum.item() / n, correct.item() / n


def format_epoch(stats: EpochStats, epochs: int) -> str:
    """The seed's per-epoch block."""
    return (
        f"Epoch: {stats.epoch}/{epochs}\n"
        f"Training Loss: {stats.train_loss:.3f}\n"
        f"Training Accuracy: {stats.train_accuracy:.2%}\n"
        f"Validation Accuracy: {stats.val_accuracy:.2%}\n" + "-" * 50
    )


def fit(
    model: nn.Module,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    params: TrainParams,
    on_best: Callable[[EpochStats, dict], None] = lambda stats, state_dict: None,
    log: Callable[[str], None] = tqdm.write,
    resume: ResumeState | None = None,
) -> FitResult:
    """Train with Adam and ReduceLROnPlateau on validation accuracy; early-stop if asked.

    on_best(stats, state_dict) is called after each epoch that improves validation accuracy
    (to checkpoint), and once more on resuming, for the best epoch so far. With resume, the
    whole training state is saved after every epoch and a matching saved state is continued
    from, giving the same result as an uninterrupted run.
    """
    model, train_x, val_x = training_layout(model, train_x, val_x)
    optimizer = make_optimizer(model, params)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=params.lr_factor, patience=params.lr_patience
    )
    generator = torch.Generator().manual_seed(params.seed)
    device = train_x.device
    steps = -(-len(train_y) // params.batch_size)
    history: list[EpochStats] = []
    best: EpochStats | None = None
    best_state: dict = {}
    stopped_early = False
    elapsed = 0.0

    saved = resume.load() if resume else None
    if saved:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        torch.set_rng_state(saved["cpu_rng"])
        if device.type == "cuda" and "cuda_rng" in saved:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        history = [EpochStats(**row) for row in saved["history"]]
        best, best_state, elapsed = EpochStats(**saved["best"]), saved["best_state"], saved["seconds"]
        on_best(best, best_state)

    started = time.perf_counter()
    for epoch in range(len(history) + 1, params.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        with tqdm(total=steps, desc=f"Epoch {epoch}/{params.epochs}", leave=False, disable=None) as bar:
            train_loss, train_acc = train_epoch(
                model, optimizer, train_x, train_y, params.batch_size, generator, bar
            )
        val_loss, val_acc, _ = score(model, val_x, val_y, EVAL_BATCH_SIZE)
        stats = EpochStats(epoch, train_loss, train_acc, val_loss, val_acc, lr)
        history.append(stats)
        log(format_epoch(stats, params.epochs))
        if best is None or val_acc > best.val_accuracy:
            best = stats
            best_state = {
                k: v.detach().cpu().clone(memory_format=torch.contiguous_format)
                for k, v in model.state_dict().items()
            }
            on_best(stats, best_state)
        scheduler.step(val_acc)
        new_lr = optimizer.param_groups[0]["lr"]
        if new_lr < lr:
            log(f"Learning rate reduced to {new_lr:.2e}")
        waited = epoch - best.epoch
        if params.early_stopping_patience and waited >= params.early_stopping_patience:
            log(f"Early stopping: no improvement in validation accuracy for {waited} epochs")
            stopped_early = True
            break
        if resume and epoch < params.epochs:
            resume.save(
                {
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(),
                    "cpu_rng": torch.get_rng_state(),
                    **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}),
                    "history": [asdict(row) for row in history],
                    "best": asdict(best),
                    "best_state": best_state,
                    "seconds": elapsed + time.perf_counter() - started,
                }
            )
    if resume:
        resume.clear()
    model.to(memory_format=torch.contiguous_format)  # hand the model back in the usual layout
    return FitResult(
        history=history,
        best_epoch=best.epoch,
        best_val_accuracy=best.val_accuracy,
        best_val_loss=best.val_loss,
        stopped_early=stopped_early,
        seconds=elapsed + time.perf_counter() - started,
    )


def history_rows(result: FitResult) -> list[dict]:
    return [asdict(stats) for stats in result.history]
