"""Levers for model_4's time to 99% that need another network, measured as candidates by
`python -m benchmarks.time_to_accuracy --candidates` and not adopted: the network changes live
here, beside the benchmark, not in models/.

- PooledHead: model_4 with its last max-pool made adaptive (to 3x3), so that it reads any image
  size: what progressive resizing needs, and its own row for comparison.
- Progressive: training's first `until` steps on images shrunk to `size` x `size` (the work of a
  convolution scales with the pixels), the rest at 28x28; validation at 28x28.
- CheaperStem: the stem's output pooled straight to 7x7, so no convolution runs at 14x14: 0.76
  million multiply-adds per image forward instead of model_4's 1.09.
"""

import torch
import torch.nn.functional as F
from torch import nn

from models.model_4 import Model_4, conv_bn_relu


class PooledHead(Model_4):
    def __init__(self):
        super().__init__()
        self.features[-3] = nn.AdaptiveMaxPool2d(3)  # conv -> pool -> BatchNorm -> ReLU: the pool is third from last


class Progressive(nn.Module):
    def __init__(self, model: nn.Module, size: int, until: int):
        super().__init__()
        self.model, self.size, self.until, self.steps = model, size, until, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.steps < self.until:
            self.steps += 1
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return self.model(x)


class CheaperStem(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, stride=2, padding=2, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(16),
            nn.ReLU(),  # 28x28 -> 7x7
            *conv_bn_relu(16, 32), *conv_bn_relu(32, 32, pool=True),  # -> 3x3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 3 * 3, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
