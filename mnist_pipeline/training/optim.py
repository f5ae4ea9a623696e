"""Optimizers and learning-rate schedules named in params.yaml (`train.optimizer`, `train.schedule`)."""

import torch
from torch import nn

from mnist_pipeline.core.limits import require_warmup
from mnist_pipeline.core.params import TrainParams
from mnist_pipeline.training.device import fast_kernels
from mnist_pipeline.training.steps import total_steps

# Stepped after every batch; `plateau` is stepped once per epoch with the validation accuracy.
PER_STEP_SCHEDULES = ("onecycle", "cosine")


def make_optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    """adam (the original project's), adamw (decoupled weight decay) or sgd with Nesterov momentum; one fused
    step per batch where the device has it."""
    fused = fast_kernels(next(model.parameters()).device)
    common = dict(lr=params.lr, weight_decay=params.weight_decay, fused=fused)
    if params.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), **common)
    if params.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), **common)
    return torch.optim.SGD(model.parameters(), momentum=params.momentum, nesterov=True, **common)


def make_scheduler(optimizer: torch.optim.Optimizer, params: TrainParams, steps_per_epoch: int):
    """plateau: lr times lr_factor after lr_patience epochs without a better validation accuracy;
    onecycle: warm up to lr over warmup of the steps, then anneal towards 0 (cosine);
    cosine: anneal from lr to 0 over all steps."""
    total = total_steps(params.epochs, steps_per_epoch)
    if params.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=params.lr_factor, patience=params.lr_patience
        )
    if params.schedule == "onecycle":
        require_warmup(params.warmup, params.epochs, steps_per_epoch, total, params.batch_size, "the recipe")
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=params.lr, total_steps=total,
                                                   pct_start=params.warmup)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
