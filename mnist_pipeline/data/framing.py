"""Any picture of one digit -> a 28x28 image framed as MNIST's makers framed theirs.

MNIST's digits were scaled, aspect kept, so that their bounding box fits 20x20, then placed in
28x28 with their centre of mass at the centre (14, 14). A model trained on them expects that:
the whole picture resized to 28x28 does not give it (a tightly cropped digit fills the frame,
a digit on a large page shrinks to a few pixels).
"""

import numpy as np
import torch
from PIL import Image, ImageOps

from mnist_pipeline.core.errors import PipelineError

BOX, SIZE, CENTRE = 20, 28, 14.0
MIN_CONTRAST = 0.15  # ink at least this much (of full scale) darker or lighter than the paper
INK_THRESHOLD = 0.3  # of the strongest ink: what counts towards the bounding box


def to_mnist(image: Image.Image, name: str = "picture") -> torch.Tensor:
    """uint8 [28, 28]: light digit on black, its box fitted into 20x20, centre of mass at the centre."""
    ink = ink_map(ImageOps.exif_transpose(image))
    if ink.max() < MIN_CONTRAST:
        raise PipelineError(f"{name}: no digit found (the picture is blank or has too little contrast)")
    rows, cols = np.nonzero(ink >= INK_THRESHOLD * ink.max())
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = BOX / max(crop.shape)
    width, height = (max(1, round(n * scale)) for n in crop.shape[::-1])
    fitted = np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.LANCZOS)).clip(0, 1)
    canvas = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - height) // 2, (SIZE - width) // 2
    canvas[top : top + height, left : left + width] = fitted
    canvas = _shift_centre_of_mass(canvas)
    return torch.from_numpy(np.round(canvas / canvas.max() * 255).astype(np.uint8))


def ink_map(image: Image.Image) -> np.ndarray:
    """float32 [H, W] in 0..1: how much ink each pixel holds, 0 for the paper."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), np.float32) / 255
        alpha = rgba[..., 3]
        if (alpha > 0.5).mean() < 0.5:  # strokes on a transparent background: opacity is the ink
            return alpha
        gray = rgba[..., :3].mean(-1) * alpha + (1 - alpha)  # transparent parts count as white paper
    elif image.mode.startswith("I;16"):
        gray = np.asarray(image, np.float32) / 65535
    elif image.mode in ("I", "F"):
        values = np.asarray(image, np.float32)
        gray = (values - values.min()) / max(float(values.max() - values.min()), 1e-12)
    else:
        gray = np.asarray(image.convert("L"), np.float32) / 255
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1 - gray if border.mean() > 0.5 else gray  # MNIST digits are light on dark
    paper = float(np.median(1 - border if border.mean() > 0.5 else border))
    return np.clip((ink - paper) / max(1 - paper, 1e-6), 0, 1).astype(np.float32)


def _shift_centre_of_mass(canvas: np.ndarray) -> np.ndarray:
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    dy, dx = (int(round(CENTRE - (axis * canvas).sum() / total)) for axis in (ys, xs))
    shifted = np.zeros_like(canvas)
    src = canvas[max(0, -dy) : SIZE - max(0, dy), max(0, -dx) : SIZE - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return shifted
