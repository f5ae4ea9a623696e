"""Random augmentation of training batches, on the batch's device: an affine move, and a lower resolution.

Each image gets its own rotation, scale and translation, drawn from the training loop's seeded
generator (on the CPU, so draws are the same on every device): runs stay byte-identical and
resumable. Pixels moved in from outside the picture are the normalized value of black, as a
shifted MNIST digit has; grid_sample's own padding, 0, is mid-grey after normalization.
Not torchvision's RandomAffine: its v2 transforms draw one set of parameters per call, so a batch
would share one move (pytorch/vision#8484), and a call per image is a Python loop per step.
"""

import math

import torch
import torch.nn.functional as F

from mnist_pipeline.core.mnist import MEAN, STD

BLACK = (0.0 - MEAN) / STD  # a pixel of 0 after the original project's Normalize


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


def random_low_resolution(images: torch.Tensor, generator: torch.Generator, share: float,
                          smallest: int = 10) -> torch.Tensor:
    """images [N, 1, H, W], each with probability `share` seen as a far-away or cheap camera sees it:
    shrunk by area averaging to a side drawn uniformly from smallest..H-1, then enlarged bilinearly
    back to H x W. Side 10 of 28 is about 8 pixels across MNIST's 20-pixel digit box."""
    n, _, height, width = images.shape
    draws = torch.rand(n, 2, generator=generator, dtype=torch.float32)
    chosen = draws[:, 0] < share
    sides = smallest + (draws[:, 1] * (height - smallest)).long()
    out = images.clone()
    for side in sides[chosen].unique().tolist():
        idx = torch.nonzero(chosen & (sides == side)).squeeze(1).to(images.device)
        small = F.interpolate(images[idx], size=(side, side * width // height), mode="area")
        out[idx] = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)
    return out
