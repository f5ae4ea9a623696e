"""A photo of writing on paper -> how much ink each pixel holds, with the paper taken away.

People photograph digits on paper lit unevenly (a shadow across it, a lamp's falloff), on textured
or ruled or squared paper. None of that is ink: the paper's brightness is fitted as a smooth surface
(a cubic in x and y, fitted robustly to the pixels not darker than it, so strokes do not pull it
down), each pixel's ink is how much darker than that surface it is, noise at the paper's own level
(its grain, measured without the ruling) is cut, and long straight lines across the page (ruling)
are taken out.
"""

import functools

import numpy as np
from PIL import Image
from scipy import ndimage

FIT_SIZE = 64  # the paper surface is fitted on a copy this many pixels on its long side
DEGREE = 3  # of the polynomial surface: gradients, a vignette, a soft shadow edge
NOISE_SIGMAS = 4.0  # ink must be this many of the paper's own standard deviations darker than it
LINE_INK = 0.08  # what counts as marked when looking for ruled lines
LINE_COVERAGE = 0.6  # a row marked over this much of the width may be a ruled line
LINE_THICKNESS = 0.04  # of the page height (and at least 2 pixels): ruled lines are thinner
WRITING_SPAN = 0.8  # ruling crosses the page: the writing without it spans less of the line's length
LINE_TO_STROKE = 0.6  # and a ruled line is thinner than this share of the writing's strokes


def as_gray(image: Image.Image) -> np.ndarray:
    """float32 [H, W] in 0..1, whatever the picture's mode: transparent parts count as white paper,
    and strokes on a transparent background are as dark as they are opaque."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), np.float32) / 255
        alpha = rgba[..., 3]
        if (alpha > 0.5).mean() < 0.5:  # strokes on a transparent background: opacity is the ink
            return 1 - alpha
        return rgba[..., :3].mean(-1) * alpha + (1 - alpha)
    if image.mode.startswith("I;16"):
        return np.asarray(image, np.float32) / 65535
    if image.mode in ("I", "F"):
        values = np.asarray(image, np.float32)
        return (values - values.min()) / max(float(values.max() - values.min()), 1e-12)
    return np.asarray(image.convert("L"), np.float32) / 255


def ink_map(gray: np.ndarray) -> np.ndarray:
    """float32 [H, W] in 0..1: how much ink each pixel of gray (as_gray's) holds, 0 for the paper."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() < 0.5:  # light writing on dark (MNIST itself, a blackboard): as dark on light
        gray = 1 - gray
    paper, noise = paper_surface(gray)
    darker = 1 - gray / np.maximum(paper, 1e-3)
    ink = _above_noise(darker, noise)
    cleaned = remove_lines(remove_lines(ink).T).T
    ruling = cleaned < ink
    if ruling.any():  # the ruling is not the paper's own grain: measured without it, faint strokes stay
        _, noise = paper_surface(np.where(ndimage.binary_dilation(ruling), paper, gray))
        ink = _above_noise(darker, noise)
        cleaned = remove_lines(remove_lines(ink).T).T
    return cleaned


def _above_noise(darker: np.ndarray, noise: float) -> np.ndarray:
    """How much ink each pixel holds: how much darker than the paper it is, beyond the paper's own noise."""
    floor = min(max(NOISE_SIGMAS * noise, 0.02), 0.5)
    return np.clip((darker - floor) / (1 - floor), 0, 1).astype(np.float32)


def paper_surface(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper's brightness at every pixel (a smooth surface under the writing) and the paper's
    own variation around it (a standard deviation, relative to its brightness)."""
    height, width = gray.shape
    scale = min(1.0, FIT_SIZE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(gray).resize(small_size, Image.Resampling.BOX), np.float64)
    terms = _terms(*small.shape)
    values = small.ravel()
    paper = np.ones(values.shape, bool)
    for _ in range(8):  # refit on what is not darker than the surface: the strokes drop out
        chosen = terms[paper]
        coefficients = np.linalg.solve(chosen.T @ chosen + 1e-9 * np.eye(len(chosen.T)), chosen.T @ values[paper])
        fitted = terms @ coefficients
        residual = values - fitted
        sigma = 1.4826 * float(np.median(np.abs(residual[paper]))) + 1e-4
        keep = residual > -3 * sigma
        if (keep == paper).all() or keep.sum() < terms.shape[1] * 4:
            break
        paper = keep
    noise = sigma / max(float(np.median(fitted[paper])), 1e-3)
    grid = np.zeros(TERMS.shape)
    grid[np.nonzero(TERMS)] = coefficients  # grid[j, i]: the coefficient of y^j x^i
    surface = _powers_of(height) @ grid @ _powers_of(width).T
    return surface.astype(np.float32), noise


TERMS = np.add.outer(np.arange(DEGREE + 1), np.arange(DEGREE + 1)) <= DEGREE  # [j, i]: y^j x^i in the surface


@functools.lru_cache(maxsize=16)
def _terms(height: int, width: int) -> np.ndarray:
    """[height * width, terms]: each pixel's powers y^j x^i of the surface's terms (the same for
    every picture of a size, so kept: building them took about 40% of a fit)."""
    terms = np.einsum("yj,xi->yxji", _powers_of(height), _powers_of(width))
    terms = terms[:, :, *np.nonzero(TERMS)].reshape(-1, int(TERMS.sum()))
    terms.setflags(write=False)
    return terms


def _powers_of(n: int) -> np.ndarray:
    """[n, DEGREE + 1]: positions 0..1 along an axis of n pixels, to the powers 0..DEGREE."""
    position = np.arange(n, dtype=np.float64) / max(n - 1, 1)
    return position[:, None] ** np.arange(DEGREE + 1)


def remove_lines(ink: np.ndarray) -> np.ndarray:
    """ink without its ruled lines: thin rows marked across most of the width. Each line's pixels
    take the lesser ink of the rows just above and below it, so a stroke crossing the line stays.

    Only where the picture shows ruling: the lines are thinner than the writing's strokes, and the
    writing without them spans well under the lines' length (ruling runs past the writing), unless
    that writing is a row, wider than tall (a number, which a photo may crop close to its ends). A
    digit filling its picture (a 0's sides, a cropped 7's bar) is left whole."""
    height, width = ink.shape
    marked = ink > LINE_INK
    rows = np.flatnonzero(marked.mean(axis=1) >= LINE_COVERAGE)
    if not rows.size:
        return ink
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    bands = [b for b in bands if len(b) <= max(2, LINE_THICKNESS * height)]
    if not bands:
        return ink
    rest = marked.copy()
    for band in bands:
        rest[band] = False
    rest[:, marked.mean(axis=0) >= LINE_COVERAGE] = False  # squared paper: the lines across these
    columns = np.flatnonzero(rest.any(axis=0))
    rest_span = (columns[-1] - columns[0] + 1) / width if columns.size else 0.0
    if (rest_span > WRITING_SPAN and not _is_row(rest)) or max(len(b) for b in bands) > LINE_TO_STROKE * stroke_width(rest):
        return ink
    cleaned = ink.copy()
    for band in bands:
        above, below = ink[max(band[0] - 1, 0)], ink[min(band[-1] + 1, height - 1)]
        cleaned[band] = np.minimum(above, below)
    return cleaned


def _is_row(marked: np.ndarray) -> bool:
    """Whether the marked pixels (the middle 98% of them each way, specks aside) are wider than tall."""
    ys, xs = np.nonzero(marked)
    if not len(ys):
        return False
    (top, bottom), (left, right) = np.percentile(ys, [1, 99]), np.percentile(xs, [1, 99])
    return right - left > bottom - top


def stroke_width(marked: np.ndarray) -> float:
    """The mean width of the marked strokes in pixels: twice their area over their outline's length."""
    padded = np.pad(np.asarray(marked, bool), 1)
    outline = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    return 2 * float(np.count_nonzero(padded)) / max(float(outline), 1.0)
