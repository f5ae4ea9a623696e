"""Raw IDX files -> validated uint8 tensors for the train, val and test splits."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import save_torch
from mnist_pipeline.core.limits import require_val_size
from mnist_pipeline.core.mnist import (
    IMAGE_SHAPE,
    MEAN,
    NUM_CLASSES,
    STD,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
)
from mnist_pipeline.data.idx import decode_idx


@dataclass(frozen=True)
class Split:
    """Images as uint8 [N, 28, 28] and labels as int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def read_pair(raw_dir: Path, images_name: str, labels_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse and cross-check one images/labels pair of IDX files."""
    images_path, labels_path = raw_dir / images_name, raw_dir / labels_name

    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise PipelineError(f"{path}: cannot read ({exc.strerror})") from None

    images = decode_idx(read(images_path), str(images_path), ndim=3)
    labels = decode_idx(read(labels_path), str(labels_path), ndim=1)
    if images.shape[1:] != IMAGE_SHAPE:
        raise PipelineError(f"{images_path}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
    if len(images) != len(labels):
        raise PipelineError(
            f"{images_path}: {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise PipelineError(f"{labels_path}: label {labels.max()} outside 0..{NUM_CLASSES - 1}")
    return images, labels


def train_val_indices(count: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Which of count training images are held out: (train indices, val indices), each sorted."""
    require_val_size(val_size, count)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[val_size:].sort().values, order[:val_size].sort().values


def split_train_val(images: np.ndarray, labels: np.ndarray, val_size: int, seed: int):
    """A seeded random split of the training set into (train, val) Splits."""
    train_idx, val_idx = train_val_indices(len(labels), val_size, seed)
    x, y = torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))
    return Split(x[train_idx], y[train_idx]), Split(x[val_idx], y[val_idx])


def prepare(raw_dir: Path, val_size: int, seed: int) -> dict[str, Split]:
    """The train, val and test Splits from the raw IDX files in raw_dir."""
    train_images, train_labels = read_pair(raw_dir, TRAIN_IMAGES, TRAIN_LABELS)
    test_images, test_labels = read_pair(raw_dir, TEST_IMAGES, TEST_LABELS)
    train, val = split_train_val(train_images, train_labels, val_size, seed)
    test = Split(torch.from_numpy(test_images.copy()), torch.from_numpy(test_labels.astype(np.int64)))
    return {"train": train, "val": val, "test": test}


def save_split(split: Split, path: Path) -> None:
    save_torch({"images": split.images, "labels": split.labels}, path)


def load_split(path: Path) -> Split:
    """Load a split written by prepare(), checking its shape."""
    try:
        data = torch.load(path, weights_only=True)
        split = Split(data["images"], data["labels"])
    except FileNotFoundError:
        raise PipelineError(f"{path}: missing; run `dvc repro preprocess` first") from None
    except Exception as exc:  # torch's refusals are paragraphs: keep their first line
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PipelineError(f"{path}: not a prepared split ({first_line})") from None
    if split.images.dtype != torch.uint8 or split.images.shape[1:] != IMAGE_SHAPE or len(split.images) != len(split.labels):
        raise PipelineError(f"{path}: not a prepared split (unexpected shapes or types)")
    return split


def normalize(images: torch.Tensor, mean: float = MEAN, std: float = STD) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], scaled to [0, 1] then standardized (the original project's Normalize)."""
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)
