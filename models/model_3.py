"""Model_3, built for accuracy per parameter: five 3x3 conv + BatchNorm + ReLU layers (8 channels at
28x28, 12 and 16 at 14x14, 16 and 16 at 7x7), global average pooling, one linear layer. 7,578 parameters.

Convolutions carry no bias (the BatchNorm after each has one). The cheap first layer and early
pooling keep an epoch on a CPU near the seed models'; most parameters sit at 7x7, where they cost little.
"""

import torch
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class Model_3(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(1, 8), nn.MaxPool2d(2),  # 28x28 -> 14x14
            conv_bn_relu(8, 12), conv_bn_relu(12, 16), nn.MaxPool2d(2),  # -> 7x7
            conv_bn_relu(16, 16), conv_bn_relu(16, 16),
        )
        self.classifier = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))  # global average pooling


Model = Model_3
