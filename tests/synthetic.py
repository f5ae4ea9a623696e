"""Small synthetic MNIST-format data that the tests write themselves.

Each label k gets a bright 7x7 square at its own place on a grid, plus noise, so a model can
learn it in a couple of epochs.
"""

import gzip
import hashlib
from pathlib import Path

import numpy as np

from mnist_pipeline.core.mnist import (
    RAW_FILES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
)
from mnist_pipeline.data.idx import encode_idx


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 4)
        images[i, 1 + row * 9 : 8 + row * 9, 1 + col * 7 : 7 + col * 7] = 250
    return images


def make_raw(n_train: int = 600, n_test: int = 200, seed: int = 0) -> dict[str, bytes]:
    """The four decompressed IDX files, keyed by their MNIST names."""
    rng = np.random.default_rng(seed)
    train_labels = (np.arange(n_train) % 10).astype(np.uint8)
    rng.shuffle(train_labels)
    test_labels = (np.arange(n_test) % 10).astype(np.uint8)
    return {
        TRAIN_IMAGES: encode_idx(make_images(train_labels, rng)),
        TRAIN_LABELS: encode_idx(train_labels),
        TEST_IMAGES: encode_idx(make_images(test_labels, rng)),
        TEST_LABELS: encode_idx(test_labels),
    }


def sha256_of(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def write_mirror(folder: Path, files: dict[str, bytes]) -> Path:
    """Write `<name>.gz` for each file, as the MNIST mirrors serve them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        (folder / f"{name}.gz").write_bytes(gzip.compress(files[name], mtime=0))
    return folder


def write_raw(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder
