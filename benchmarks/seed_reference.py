"""The seed's way of feeding a model, for comparison: torchvision's MNIST dataset, ToTensor and
Normalize through a DataLoader.

Where torchvision imports (an ordinary machine with the matching torch), the real classes are
used. Where it does not (the CPU-only torch from PyPI: torchvision's binary links CUDA
libraries), its steps are reproduced one for one: per sample,
`MNIST.__getitem__` makes a PIL image from the uint8 array, `ToTensor` turns it into a float
[1, 28, 28] tensor in [0, 1], and `Normalize(0.1307, 0.3081)` standardizes it; a DataLoader
(batch 128, shuffle, default collate, no workers) batches them, and the loop reads the loss and
the correct count back with `.item()` on every step, as the seed's tqdm loop does.
"""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from mnist_pipeline.core.mnist import MEAN, STD


class SeedStyleMNIST(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.data, self.targets = images, labels
        self.mean, self.std = torch.tensor([MEAN]).view(-1, 1, 1), torch.tensor([STD]).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy())  # MNIST.__getitem__ (mode "L")
        tensor = torch.from_numpy(np.array(img, np.uint8, copy=True))  # ToTensor
        tensor = tensor.view(img.size[1], img.size[0], 1).permute((2, 0, 1)).contiguous()
        tensor = tensor.to(dtype=torch.get_default_dtype()).div(255)
        tensor = tensor.sub_(self.mean).div_(self.std)  # Normalize
        return tensor, target


def seed_dataset(images: torch.Tensor, labels: torch.Tensor) -> tuple[Dataset, str]:
    """The dataset the seed-style loop reads, and what it is, for the benchmark's output:
    torchvision's own MNIST class, ToTensor and Normalize where torchvision imports, else the replica."""
    try:
        from torchvision import datasets, transforms
    except Exception:  # not installed, or built for another torch (ImportError, OSError, RuntimeError)
        return SeedStyleMNIST(images, labels), (
            "a replica of torchvision's MNIST + ToTensor + Normalize (torchvision does not import here)"
        )
    dataset = datasets.MNIST.__new__(datasets.MNIST)  # its __getitem__, without its folder checks
    dataset.data, dataset.targets, dataset.target_transform = images, labels, None
    dataset.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    return dataset, "torchvision.datasets.MNIST + ToTensor + Normalize"


def seed_loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(seed_dataset(images, labels)[0], batch_size=batch_size, shuffle=True, generator=generator)


def seed_train_epoch(model, optimizer, loader: DataLoader) -> tuple[float, float]:
    """One epoch the seed's way; returns (mean loss per batch, accuracy)."""
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
