"""Any picture of digits -> 28x28 images framed as MNIST's makers framed theirs, as candidate readings.

MNIST's digits were scaled, aspect kept, so that their bounding box fits 20x20, then placed in
28x28 with their centre of mass at the centre (14, 14). A model trained on them expects that:
the whole picture resized to 28x28 does not give it (a tightly cropped digit fills the frame,
a digit on a large page shrinks to a few pixels).

The plain reading comes first: the ink is how far each pixel is from the paper's level at the
border, framed as above (what predict did before it cleaned pages, and exactly MNIST for an MNIST
digit). Cleaning the page (paper.py: shading, ruled lines) and splitting a number into digits
(digits.py) are guesses about the picture, each taken only where the picture shows it applies: the
cleaned page where the picture shows paper beyond the writing (shows_paper), and a split where it
shows digits apart, or as candidates whose tie the model's confidence breaks (reader.py decides).

Resizing stays with PIL: torchvision's v2 resize hands PIL images to the same PIL call, and
importing torchvision would add about 1.4 s to every run (docs/predict.md, Speed).
"""

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.predict.digits import split_digits
from mnist_pipeline.predict.paper import as_gray, ink_map
from mnist_pipeline.predict.paper import stroke_width as marked_stroke_width

BOX, SIZE, CENTRE = 20, 28, 14.0
MIN_CONTRAST = 0.15  # ink at least this much darker than the paper (or lighter, on dark paper)
INK_THRESHOLD = 0.3  # of the strongest ink: what counts towards the bounding box
# Stroke widths in MNIST's 28x28 frames (stroke_width): 1.0 pixel at the 1st percentile, 1.2 at the
# 5th, 1.9 median. Only a stroke thinner than nearly all of MNIST's is widened: a thin pen.
THIN_STROKE, USUAL_STROKE = 1.0, 2.0
FILLS = 0.8  # writing spanning this much of the picture's height or width fills it: a crop
MARGIN = 2  # pixels of paper that cleaned writing leaves on every side, at least, to be inside a page
FRAME_CONTRAST = 0.2  # a 1-pixel ring this much lighter or darker than what is inside it is a frame
# Paper marks (a shadow, ruling) are fainter than writing, so the plain reading's strongest ink (at
# least STRONG of its peak) is writing, and a cleaned page keeps it: at least 0.77 of it on every
# shaded, ruled or squared page in the controls. A paper fit that followed the soft strokes of a
# digit filling a small picture kept 0.65 or less.
STRONG, WRITING_KEPT = 0.6, 0.7
SPECKS = 0.003  # marks apart from the writing, each under this share of its ink, are specks (_box)
# A pen that skips leaves breaks across its strokes; MNIST's writers' pens did not. Breaks narrower
# than about two JOINs of the stroke's width are closed, by at most JOIN_MOST of a framed pixel on
# each side (at MNIST's own resolution the smallest closing would be too coarse), never filling
# paper that the writing encloses (the eye of a thickly written 8, 9 or 6). Strokes wider than
# JOIN_THICKEST framed pixels (90% of MNIST's are narrower) are a thick pen's, which does not skip,
# and closing them would fill the paper between them (a 5's corner, read as a 3's).
JOIN, JOIN_MOST, JOIN_THICKEST = 0.3, 0.6, 2.8
# A stroke the pen skipped across leaves the digit in pieces: gaps between pieces (each at least
# PIECE of the ink) are bridged up to BRIDGE of the stroke's width on each side, at most BRIDGE_MOST
# of a framed pixel, adding only ink that joins two pieces (nothing where the digit is whole).
BRIDGE, BRIDGE_MOST, PIECE = 0.6, 1.0, 0.03


@dataclass
class Readings:
    """The ways one picture can be read: `whole` as one digit (the plain framing, or the cleaned page
    where the picture shows paper to clean); `parts` its digits when it may hold a number, left to
    right, each of which may also be read as several (`alternatives`: digits that touch, or two
    pieces side by side that may be one broken digit); else empty."""

    whole: torch.Tensor
    parts: list[torch.Tensor] = field(default_factory=list)
    alternatives: dict[int, list[torch.Tensor]] = field(default_factory=dict)  # part index -> the digits it may be
    too_wide: dict[int, str] = field(default_factory=dict)  # parts wider than nearly any digit -> why, if read
    # convincingly neither as one digit nor as their alternative, they are refused
    apart: bool = False  # the picture shows a number (digits.Writing.apart): its parts stand, whatever the model
    touching: str = ""  # why the picture looks like digits that touch: refused unless read as one digit
    similar: bool = False  # the parts are of similar height (digits.Writing.similar)
    even: bool = False  # and of even height (digits.Writing.even)


def to_mnist(image: Image.Image, name: str = "picture") -> torch.Tensor:
    """uint8 [28, 28] of a picture of one digit: light digit on black, its box fitted into 20x20,
    centre of mass at the centre (the picture read as one digit)."""
    return readings(image, name).whole


def readings(image: Image.Image, name: str = "picture") -> Readings:
    """The candidate readings of a picture (see the module's docstring)."""
    gray = without_frame(as_gray(ImageOps.exif_transpose(image)))
    plain = plain_ink(gray)
    if plain.max() < MIN_CONTRAST:
        plain = None
    # The plain reading, unless the picture shows paper (a shadow, ruling) that the cleaning took away:
    # plain ink that reaches no edge shows none, and the page is not cleaned (the slowest step).
    cleaned = ink_map(gray) if plain is None or touches_edges(plain) else None
    if cleaned is not None and cleaned.max() < MIN_CONTRAST:
        if plain is None:
            raise PipelineError(f"{name}: no digit found (the picture is blank or has too little contrast)")
        cleaned = None
    ink = plain if plain is not None and (cleaned is None or not shows_paper(plain, cleaned)) else cleaned
    try:
        writing = split_digits(ink, name)
    except PipelineError as exc:  # digits that touch, or one wide digit: the model decides
        return Readings(frame(ink), touching=str(exc))
    if len(writing.digits) == 1 and not writing.digits[0].alternative:
        return Readings(frame(ink))
    return Readings(frame(ink), [frame(digit.ink) for digit in writing.digits],
                    {i: [frame(part) for part in digit.alternative] for i, digit in enumerate(writing.digits) if digit.alternative},
                    {i: digit.touching for i, digit in enumerate(writing.digits) if digit.touching}, writing.apart,
                    similar=writing.similar, even=writing.even)


def to_mnist_digits(image: Image.Image, name: str = "picture") -> list[torch.Tensor]:
    """One framed uint8 [28, 28] per digit the picture may hold, left to right, without a model to
    choose: the digits the picture shows apart (writing too wide for one digit cut where it is
    thinnest), else the whole picture as one digit."""
    found = readings(image, name)
    if found.touching:
        raise PipelineError(found.touching)
    digits = []
    for i, part in enumerate(found.parts):
        digits += found.alternatives[i] if i in found.too_wide else [part]
    return digits if len(digits) > 1 and (found.apart or found.too_wide) else [found.whole]


def without_frame(gray: np.ndarray) -> np.ndarray:
    """gray without a 1-pixel border that a scanner or a screenshot left: an even ring clearly
    lighter or darker than the ring inside it."""
    if min(gray.shape) < 8:
        return gray
    outer = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    inner = np.concatenate([gray[1, 1:-1], gray[-2, 1:-1], gray[2:-2, 1], gray[2:-2, -2]])
    if outer.std() < 0.05 and abs(float(np.median(outer)) - float(np.median(inner))) > FRAME_CONTRAST:
        return gray[1:-1, 1:-1]
    return gray


def plain_ink(gray: np.ndarray) -> np.ndarray:
    """float32 [H, W] in 0..1: how far each pixel is from the paper's level at the border (the
    median of the outermost pixels), light on dark as MNIST's; no other cleanup."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1 - gray if border.mean() > 0.5 else gray
    paper = float(np.median(1 - border if border.mean() > 0.5 else border))
    return np.clip((ink - paper) / max(1 - paper, 1e-6), 0, 1).astype(np.float32)


def plain_frame(image: Image.Image) -> torch.Tensor:
    """The plain reading alone, as predict read every picture before it cleaned pages: the
    reference that no cleanup may fall below."""
    return frame(plain_ink(as_gray(ImageOps.exif_transpose(image))), cleanup=False)


def shows_paper(plain: np.ndarray, cleaned: np.ndarray) -> bool:
    """Whether the picture shows paper that the plain reading takes for ink: the plain ink reaches the
    picture's edges (a shadow, ruled lines), while the cleaned writing (specks aside) stays well
    inside them and keeps the plain reading's strongest ink. A crop, whose writing fills the
    picture's height (or its width, for writing no wider than tall: a row of digits may span a
    photo end to end), shows no paper to clean."""
    if not touches_edges(plain):
        return False
    height, width = cleaned.shape
    writing = cleaned >= INK_THRESHOLD * cleaned.max()
    (top, bottom), (left, right) = _box(writing)
    fills = (bottom - top) / height >= FILLS or ((right - left) / width >= FILLS and right - left <= bottom - top)
    if min(top, left, height - bottom, width - right) < MARGIN or fills:
        return False
    return float(writing[plain >= STRONG * plain.max()].mean()) >= WRITING_KEPT


def touches_edges(ink: np.ndarray) -> bool:
    """Whether the ink that counts towards the bounding box reaches any edge of the picture."""
    marked = ink >= INK_THRESHOLD * ink.max()
    return bool(marked[0].any() or marked[-1].any() or marked[:, 0].any() or marked[:, -1].any())


def frame(ink: np.ndarray, cleanup: bool = True) -> torch.Tensor:
    """The ink of one digit framed as MNIST's: its box fitted into 20x20, centre of mass at the centre.
    With cleanup, specks are left out of the box and a stroke thinner than MNIST's thinnest is made
    as wide as its usual: thin as the model would see it (resized, where noise has averaged out, but
    where no stroke measures under about a pixel), widened by what it lacks at full resolution."""
    crop = _crop(ink, specks=SPECKS if cleanup else 0.0)
    if cleanup:
        crop = _bridged(_joined(crop))
    fitted, scale = _fitted(crop)
    if cleanup and stroke_width(fitted) < THIN_STROKE:
        radius = round((USUAL_STROKE - stroke_width(crop) * scale) / 2 / scale)
        if radius:
            padded = Image.fromarray(np.pad(crop, radius))
            fitted, scale = _fitted(_crop(np.asarray(padded.filter(ImageFilter.MaxFilter(2 * radius + 1)))))
    height, width = fitted.shape
    canvas = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - height) // 2, (SIZE - width) // 2
    canvas[top : top + height, left : left + width] = fitted
    canvas = _shift_centre_of_mass(canvas)
    return torch.from_numpy(np.round(canvas / canvas.max() * 255).astype(np.uint8))


def _joined(crop: np.ndarray) -> np.ndarray:
    """crop with breaks across its strokes closed (a grey closing: the most ink near each pixel, then
    the least of that), by JOIN of the stroke's width, at most JOIN_MOST of a framed pixel; paper
    the writing encloses stays as it is."""
    stroke, pixels_per_framed = stroke_width(crop), max(crop.shape) / BOX
    radius = min(round(JOIN * stroke), int(JOIN_MOST * pixels_per_framed))
    if radius < 1 or stroke > JOIN_THICKEST * pixels_per_framed:
        return crop
    closed = _closing(crop, radius)
    paper = crop < INK_THRESHOLD * crop.max()
    return np.where(ndimage.binary_fill_holes(~paper) & paper, crop, closed)


def _bridged(crop: np.ndarray) -> np.ndarray:
    """crop with the gaps between its pieces bridged (a grey closing as in _joined, by BRIDGE of the
    stroke's width, at most BRIDGE_MOST of a framed pixel), keeping only the added ink that touches
    two pieces: a 6's loop cut from its stem is joined, paper around a whole digit stays paper."""
    marked = crop >= INK_THRESHOLD * crop.max()
    every_way = np.ones((3, 3), bool)
    pieces, count = ndimage.label(marked, every_way)
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)
    large = np.flatnonzero(sizes[1:] >= PIECE * sizes[1:].sum()) + 1
    if len(large) < 2:
        return crop
    radius = min(round(BRIDGE * stroke_width(crop)), int(BRIDGE_MOST * max(crop.shape) / BOX))
    if radius < 1:
        return crop
    closed = _closing(crop, radius)
    added = (closed >= INK_THRESHOLD * crop.max()) & ~ndimage.binary_fill_holes(marked)
    links, link_count = ndimage.label(added, every_way)
    touched = np.zeros(link_count + 1, int)
    for k in large:
        touched[np.unique(links[ndimage.binary_dilation(pieces == k, every_way) & added])] += 1
    return np.where(added & (touched >= 2)[links], closed, crop)


def _closing(crop: np.ndarray, radius: int) -> np.ndarray:
    """crop's grey closing over a square of side 2 * radius + 1 (the most ink near each pixel, then
    the least of that), with paper around the crop."""
    padded = np.pad(crop, radius)
    return ndimage.grey_closing(padded, size=2 * radius + 1, mode="nearest")[radius:-radius, radius:-radius]


def _fitted(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """The crop resized, aspect kept, to fit BOX x BOX; and the scale it was resized by."""
    scale = BOX / max(crop.shape)
    width, height = (max(1, round(n * scale)) for n in crop.shape[::-1])
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.LANCZOS)).clip(0, 1), scale


def _crop(ink: np.ndarray, specks: float = SPECKS) -> np.ndarray:
    (top, bottom), (left, right) = _box(ink >= INK_THRESHOLD * ink.max(), specks)
    return ink[top:bottom, left:right]


def _box(marked: np.ndarray, specks: float = SPECKS) -> tuple[tuple[int, int], tuple[int, int]]:
    """(top, bottom), (left, right) of the marked pixels, bottom and right exclusive, leaving out
    specks (noise, JPEG blocks): outermost runs of rows or columns, apart from the rest by clean
    lines, each holding under `specks` of the marked pixels. A stroke's tip touches the rest
    and stays."""
    spans = []
    for axis in (1, 0):
        counts = marked.sum(axis=axis)
        lines = np.flatnonzero(counts)
        runs = np.split(lines, np.flatnonzero(np.diff(lines) > 1) + 1)
        mass = np.array([counts[run].sum() for run in runs], float)
        kept = np.flatnonzero(mass >= specks * mass.sum())
        first, last = (kept[0], kept[-1]) if kept.size else (0, len(runs) - 1)
        spans.append((int(runs[first][0]), int(runs[last][-1]) + 1))
    return spans[0], spans[1]


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes in pixels: twice the inked area over its outline's length."""
    return marked_stroke_width(ink >= 0.5 * ink.max())


def _shift_centre_of_mass(canvas: np.ndarray) -> np.ndarray:
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    dy, dx = (int(round(CENTRE - (axis * canvas).sum() / total)) for axis in (ys, xs))
    shifted = np.zeros_like(canvas)
    src = canvas[max(0, -dy) : SIZE - max(0, dy), max(0, -dx) : SIZE - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return shifted
