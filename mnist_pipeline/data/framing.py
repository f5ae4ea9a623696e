"""Any picture of one digit -> a 28x28 image framed as MNIST's makers framed theirs.

MNIST's digits were scaled, aspect kept, so that their bounding box fits 20x20, then placed in
28x28 with their centre of mass at the centre (14, 14). A model trained on them expects that:
the whole picture resized to 28x28 does not give it (a tightly cropped digit fills the frame,
a digit on a large page shrinks to a few pixels).
"""

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.digits import split_digits
from mnist_pipeline.data.paper import ink_map

BOX, SIZE, CENTRE = 20, 28, 14.0
MIN_CONTRAST = 0.15  # ink at least this much darker than the paper (or lighter, on dark paper)
INK_THRESHOLD = 0.3  # of the strongest ink: what counts towards the bounding box
# Stroke widths in MNIST's 28x28 frames (stroke_width): 1.3 pixels at the 5th percentile, 2.0 median.
THIN_STROKE, USUAL_STROKE = 1.4, 2.0


def to_mnist(image: Image.Image, name: str = "picture") -> torch.Tensor:
    """uint8 [28, 28] of a picture of one digit: light digit on black, its box fitted into 20x20,
    centre of mass at the centre."""
    return frame(_ink(image, name), name)


def to_mnist_digits(image: Image.Image, name: str = "picture") -> list[torch.Tensor]:
    """One framed uint8 [28, 28] per digit written in the picture, left to right."""
    return [frame(ink, name) for ink in split_digits(_ink(image, name), name)]


def _ink(image: Image.Image, name: str) -> np.ndarray:
    ink = ink_map(ImageOps.exif_transpose(image))
    if ink.max() < MIN_CONTRAST:
        raise PipelineError(f"{name}: no digit found (the picture is blank or has too little contrast)")
    return ink


def frame(ink: np.ndarray, name: str = "picture") -> torch.Tensor:
    """The ink of one digit framed as MNIST's: its box fitted into 20x20, centre of mass at the centre,
    a stroke thinner than MNIST's thinnest made as wide as its usual."""
    crop = _crop(ink)
    scale = BOX / max(crop.shape)
    width = stroke_width(crop) * scale
    if width < THIN_STROKE:
        radius = round((USUAL_STROKE - width) / 2 / scale)
        if radius:
            padded = Image.fromarray(np.pad(crop, radius))
            crop = _crop(np.asarray(padded.filter(ImageFilter.MaxFilter(2 * radius + 1))))
            scale = BOX / max(crop.shape)
    width, height = (max(1, round(n * scale)) for n in crop.shape[::-1])
    fitted = np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.LANCZOS)).clip(0, 1)
    canvas = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - height) // 2, (SIZE - width) // 2
    canvas[top : top + height, left : left + width] = fitted
    canvas = _shift_centre_of_mass(canvas)
    return torch.from_numpy(np.round(canvas / canvas.max() * 255).astype(np.uint8))


def _crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(ink >= INK_THRESHOLD * ink.max())
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes in pixels: twice the inked area over its outline's length."""
    marked = (ink >= 0.5 * ink.max()).astype(np.int8)
    outline = sum(np.abs(np.diff(np.pad(marked, 1), axis=axis)).sum() for axis in (0, 1))
    return 2 * float(marked.sum()) / max(float(outline), 1.0)


def _shift_centre_of_mass(canvas: np.ndarray) -> np.ndarray:
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    dy, dx = (int(round(CENTRE - (axis * canvas).sum() / total)) for axis in (ys, xs))
    shifted = np.zeros_like(canvas)
    src = canvas[max(0, -dy) : SIZE - max(0, dy), max(0, -dx) : SIZE - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return shifted
