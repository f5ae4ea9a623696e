"""Stratified k-fold assignment of the training images, and the (train, val) Splits of one fold."""

from pathlib import Path

import numpy as np
import torch

from mnist_pipeline.core.mnist import TRAIN_IMAGES, TRAIN_LABELS
from mnist_pipeline.core.limits import require_folds
from mnist_pipeline.data.splits import Split, read_pair


def assign_folds(labels: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """Fold number (1..k, uint8) of each image: every class is shuffled with the seed and dealt
    round-robin, so each fold holds each class's images to within one."""
    counts = torch.bincount(labels)
    smallest = int(counts[counts > 0].min()) if len(labels) else 0
    require_folds(k, smallest)
    generator = torch.Generator().manual_seed(seed)
    folds = torch.empty(len(labels), dtype=torch.uint8)
    for label in range(len(counts)):
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        folds[members] = (torch.arange(len(members)) % k + 1).to(torch.uint8)
    return folds


def training_images(raw_dir: Path) -> Split:
    """All the training images, in the IDX file's order (the order fold numbers refer to)."""
    images, labels = read_pair(raw_dir, TRAIN_IMAGES, TRAIN_LABELS)
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


def fold_split(data: Split, folds: torch.Tensor, fold: int) -> tuple[Split, Split]:
    """(train, val): the images of every other fold, and of this one."""
    held_out = folds == fold
    return Split(data.images[~held_out], data.labels[~held_out]), Split(data.images[held_out], data.labels[held_out])
