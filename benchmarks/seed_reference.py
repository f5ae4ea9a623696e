"""The original project's data pipeline (its "seed" in this file's names), for comparison: torchvision's `datasets.MNIST` over the project's
verified raw files, `ToTensor()` and `Normalize((0.1307,), (0.3081,))`, through a `DataLoader`
with shuffling at the batch size it is given (the model's, as the other loops; the original project's is 128), and a loop that reads the loss and the correct count back with
`.item()` on every step, as the original project's tqdm loop does (../shared/seed/seed-readme.md).

The one departure: the dataset is restricted to the project's 55,000 training images (the
validation split held out by `preprocess`), so both loops do the same work per epoch.
"""

import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import datasets, transforms

from mnist_pipeline.core.mnist import MEAN, STD
from mnist_pipeline.data.splits import train_val_indices

WHAT = "torchvision.datasets.MNIST + ToTensor + Normalize through a DataLoader"


def seed_dataset(raw_dir: Path, val_size: int, split_seed: int) -> Dataset:
    """torchvision's MNIST training set read from raw_dir (the four decompressed IDX files, as
    `download` leaves them in data/raw), less the validation images."""
    with tempfile.TemporaryDirectory(prefix="seed-mnist-") as root:
        (Path(root) / "MNIST").mkdir()
        (Path(root) / "MNIST" / "raw").symlink_to(Path(raw_dir).resolve())  # the layout MNIST expects
        transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
        mnist = datasets.MNIST(root, train=True, transform=transform)  # reads the files here, once
    train_indices, _ = train_val_indices(len(mnist), val_size, split_seed)
    return Subset(mnist, train_indices.tolist())


def seed_loader(dataset: Dataset, batch_size: int, seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)


def seed_train_epoch(model, optimizer, loader: DataLoader) -> tuple[float, float]:
    """One epoch the original project's way; returns (mean loss per batch, accuracy)."""
    model.train()
    running_loss, correct, seen = 0.0, 0, 0
    for data, target in loader:
        optimizer.zero_grad()
        output = model(data)
        loss = F.cross_entropy(output, target)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        correct += output.argmax(dim=1).eq(target).sum().item()
        seen += len(target)
    return running_loss / len(loader), correct / seen
