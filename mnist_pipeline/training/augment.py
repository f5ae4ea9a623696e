"""Random affine augmentation of training batches, on the batch's device.

Each image gets its own rotation, scale and translation, drawn from the training loop's seeded
generator (on the CPU, so draws are the same on every device): runs stay byte-identical and
resumable. Pixels moved in from outside the picture are the normalized value of black, as a
shifted MNIST digit has; grid_sample's own padding, 0, is mid-grey after normalization.
"""

import math

import torch
import torch.nn.functional as F

from mnist_pipeline.core.mnist import MEAN, STD

BLACK = (0.0 - MEAN) / STD  # a pixel of 0 after the seed's Normalize


def random_affine(images: torch.Tensor, generator: torch.Generator, rotate: float, translate: float,
                  scale: float) -> torch.Tensor:
    """images [N, 1, H, W] each rotated by up to ±rotate degrees, scaled by up to ±scale (a
    fraction), and shifted by up to ±translate of the image size on each axis, all uniform."""
    n = len(images)
    draws = torch.rand(n, 4, generator=generator, dtype=torch.float32) * 2 - 1
    angle = draws[:, 0] * math.radians(rotate)
    zoom = 1 + draws[:, 1] * scale
    shift = draws[:, 2:] * (2 * translate)  # grid coordinates span [-1, 1], so the image size is 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # theta maps each output pixel to where it is sampled in the input.
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    moved = F.grid_sample(images - BLACK, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved + BLACK
