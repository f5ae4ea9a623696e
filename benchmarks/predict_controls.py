"""How predict reads MNIST test digits as people have them, and as they photograph them.

    python -m benchmarks.predict_controls [--model NAME | --checkpoint FILE] [--count 1000] [--docs]
    python -m benchmarks.predict_controls --speed [--model NAME | --checkpoint FILE]

Two tables, both from MNIST test digits (never the training data), 1,000 of each unless told:
- pictures as people have them: 28x28 files in both polarities, tight crops (as they are and
  enlarged 4-8x), the digit filling a low-resolution picture (8x8 and 12x12 enlarged to 64x64),
  strokes touching the picture's edge, a scanner's 1-pixel grey border;
- photo-like pages: dark ink on a 400x400 page, then a shadow, ruled or squared paper, noise and
  JPEG, blur, a low-resolution source, a thinner or thicker pen, a slant; and numbers of two and
  three digits side by side.
Every picture goes through what `mnist-predict` does to it (framing, paper, digits, the reader's
choice among them), and counts as read only when every digit in it is. Beside it, the plain
framing: the picture framed as MNIST's digits were, without any cleanup (framing.plain_frame).
Each row prints PASS or FAIL against its target, and no row may fall more than 0.2 pp below
the plain framing. `--speed` times `mnist-predict` on 1,797 low-resolution pictures, start-up
included. The model is predict's default unless named; its temperature is its
metrics/<model>/calibration.json where there is one. `--docs` writes the tables into
docs/predict.md.
"""

import argparse
import io
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from benchmarks.common import ROOT
from mnist_pipeline.core import paths
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.splits import load_split
from mnist_pipeline.predict.calibration import calibration_path, read_temperature
from mnist_pipeline.predict.digits import connected_pieces
from mnist_pipeline.predict.framing import plain_frame, readings
from mnist_pipeline.predict.project import default_model
from mnist_pipeline.predict.reader import Reader
from mnist_pipeline.readme import replace_block

PAGE, SCALE = 400, 8  # a digit is drawn 8x (224 px) on a 400x400 page, about a phone photo's crop
SINGLE_TARGET, NUMBER_TARGET, BROKEN_TARGET = 0.97, 0.97, 0.99


def ink_picture(digit: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """The digit's ink (0..1) drawn large: MNIST's 28x28 upscaled smoothly."""
    big = Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    return np.asarray(big, np.float32).clip(0, 255) / 255


def on_page(ink: np.ndarray, rng: np.random.Generator, page=(PAGE, PAGE)) -> np.ndarray:
    """Paper brightness 0..1 with the ink placed at a random spot (dark ink: 0.1 of the paper)."""
    paper = np.ones(page, np.float32)
    top = rng.integers(0, page[0] - ink.shape[0] + 1)
    left = rng.integers(0, page[1] - ink.shape[1] + 1)
    paper[top : top + ink.shape[0], left : left + ink.shape[1]] -= 0.9 * ink
    return paper


def picture(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(gray.clip(0, 1) * 255).astype(np.uint8))


def shadow_gradient(gray, rng):
    """Light falling off across the page, to 35% of full at the dark side."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0 : gray.shape[0], 0 : gray.shape[1]] / max(gray.shape)
    along = np.cos(angle) * xs + np.sin(angle) * ys
    light = 1 - 0.65 * (along - along.min()) / (along.max() - along.min())
    return gray * light


def shadow_edge(gray, rng):
    """A soft-edged shadow (a hand, a phone) over part of the page, the shade at 45%."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0 : gray.shape[0], 0 : gray.shape[1]] / max(gray.shape)
    along = np.cos(angle) * (xs - 0.5) + np.sin(angle) * (ys - 0.5) - rng.uniform(-0.2, 0.2)
    return gray * (1 - 0.55 / (1 + np.exp(-along / 0.06)))


def ruled(gray, rng, squared=False, spacing=None):
    """Blue-grey lines 2 px wide: ruled every 60 px (about a third of the digit), or a 40 px grid."""
    spacing = spacing or (40 if squared else 60)
    offset = rng.integers(0, spacing)
    lines = np.zeros_like(gray)
    lines[offset::spacing] = 1
    lines[offset + 1 :: spacing] = 1
    if squared:
        lines[:, offset::spacing] = 1
        lines[:, offset + 1 :: spacing] = 1
    return np.minimum(gray, 1 - 0.45 * lines)


def noise_jpeg(gray, rng):
    """Sensor noise (8% standard deviation) and JPEG at quality 30."""
    noisy = picture(gray + rng.normal(0, 0.08, gray.shape))
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=30)
    return np.asarray(Image.open(buffer), np.float32) / 255


def blur(gray, rng):
    """Out of focus: a Gaussian blur of 6 px (a stroke is about 20 px wide here)."""
    return np.asarray(picture(gray).filter(ImageFilter.GaussianBlur(6)), np.float32) / 255


def low_resolution(side):
    """The digit photographed with side x side pixels on its 20x20 box (a small crop of a far-away
    picture), then enlarged smoothly as a viewer does."""
    def make(digit, rng):
        small = Image.fromarray(digit[4:24, 4:24]).resize((side, side), Image.Resampling.BOX)
        big = small.resize((20 * SCALE, 20 * SCALE), Image.Resampling.BICUBIC)
        return on_page(np.asarray(big, np.float32).clip(0, 255) / 255, rng)
    return make


def pen(width_change):
    """A thinner (negative) or thicker pen: the stroke eroded or dilated by this many pixels."""
    def make(digit, rng):
        ink = Image.fromarray(np.round(ink_picture(digit) * 255).astype(np.uint8))
        size = 2 * abs(width_change) + 1
        ink = ink.filter(ImageFilter.MinFilter(size) if width_change < 0 else ImageFilter.MaxFilter(size))
        return on_page(np.asarray(ink, np.float32) / 255, rng)
    return make


def slant(digit, rng):
    """Written leaning right or left, by 15 to 25 degrees."""
    shear = np.tan(np.radians(rng.uniform(15, 25))) * rng.choice([-1, 1])
    ink = Image.fromarray(np.round(ink_picture(digit) * 255).astype(np.uint8))
    size = ink.size[0]
    wide = Image.new("L", (size * 2, size))
    wide.paste(ink, (size // 2, 0))
    sheared = wide.transform(wide.size, Image.Transform.AFFINE, (1, shear, -shear * size / 2, 0, 1, 0),
                             Image.Resampling.BICUBIC)
    return on_page(np.asarray(sheared.crop(sheared.getbbox()), np.float32) / 255, rng, (PAGE, PAGE + 200))


def plain(digit, rng):
    return on_page(ink_picture(digit), rng)


SINGLE = {
    "clean page": plain,
    "shadow gradient (to 35% light)": lambda d, r: shadow_gradient(plain(d, r), r),
    "soft shadow edge (45% shade)": lambda d, r: shadow_edge(plain(d, r), r),
    "ruled paper": lambda d, r: ruled(plain(d, r), r),
    "squared paper": lambda d, r: ruled(plain(d, r), r, squared=True),
    "noise and JPEG (quality 30)": lambda d, r: noise_jpeg(plain(d, r), r),
    "blur": lambda d, r: blur(plain(d, r), r),
    "16x16 pixels on the digit, enlarged": low_resolution(16),
    "8x8 pixels on the digit, enlarged": low_resolution(8),
    "thin pen": pen(-5),
    "thick pen": pen(6),
    "slant (15-25 degrees)": slant,
}


def number(digits: list[np.ndarray], rng) -> np.ndarray:
    """The digits side by side, each cropped to its ink, with gaps of 10-40% of a digit's width."""
    inks = []
    for digit in digits:
        ink = ink_picture(digit)
        cols = np.flatnonzero(ink.max(0) > 0.1)
        inks.append(ink[:, cols[0] : cols[-1] + 1])
    gaps = [int(rng.uniform(0.1, 0.4) * 28 * SCALE * 0.6) for _ in inks[1:]]
    width = sum(i.shape[1] for i in inks) + sum(gaps)
    page = np.ones((PAGE, width + 160), np.float32)
    left = 80
    for i, ink in enumerate(inks):
        top = 80 + rng.integers(-20, 21)
        page[top : top + ink.shape[0], left : left + ink.shape[1]] -= 0.9 * ink
        left += ink.shape[1] + (gaps[i] if i < len(gaps) else 0)
    return page.clip(0, 1)


# Numbers as people photograph them: MNIST digits written side by side, each its own height and
# baseline, with any gap from a pixel to a digit's width, the row turned a little.
NUMBER_SCALE = 4  # each digit's 28x28 frame drawn 4x: writing about 80 pixels tall, as in a phone photo of a page
DIGIT_WIDTH = 16 * NUMBER_SCALE  # MNIST's digits are about 16 of their 20-pixel box wide


def _inked(ink: np.ndarray, level: float = 0.1) -> np.ndarray:
    """ink cropped to the rows and columns that hold any of it."""
    rows, cols = np.flatnonzero(ink.max(1) > level), np.flatnonzero(ink.max(0) > level)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def written_number(digits: list[np.ndarray], rng) -> np.ndarray:
    """The ink (0..1) of the digits written as a number: each digit's height within +-15% of the
    others', its baseline jittered by up to 8% of the height, gaps from 1 pixel to a digit's width,
    the whole row turned by up to 6 degrees either way, with paper around it."""
    inks = [_inked(_scaled(digit, NUMBER_SCALE * rng.uniform(0.85, 1.15))) for digit in digits]
    height = 20 * NUMBER_SCALE
    gaps = [int(rng.integers(1, DIGIT_WIDTH + 1)) for _ in inks[1:]]
    drops = [int(round(rng.uniform(-0.08, 0.08) * height)) for _ in inks]
    tallest = max(ink.shape[0] for ink in inks)
    jitter = int(np.ceil(0.08 * height))
    canvas = np.zeros((tallest + 2 * jitter, sum(i.shape[1] for i in inks) + sum(gaps)), np.float32)
    left = 0
    for i, ink in enumerate(inks):
        bottom = tallest + jitter + drops[i]
        spot = canvas[bottom - ink.shape[0] : bottom, left : left + ink.shape[1]]
        np.maximum(spot, ink, out=spot)
        left += ink.shape[1] + (gaps[i] if i < len(gaps) else 0)
    turned = Image.fromarray(canvas).rotate(rng.uniform(-6, 6), Image.Resampling.BICUBIC, expand=True)
    row = _inked(np.asarray(turned).clip(0, 1), 0.02)
    margins = [int(rng.uniform(0.3, 1.0) * height) for _ in range(4)]
    return np.pad(row, ((margins[0], margins[1]), (margins[2], margins[3])))


def _scaled(digit: np.ndarray, scale: float) -> np.ndarray:
    size = round(28 * scale)
    return np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC), np.float32).clip(0, 255) / 255


def lit_paper(gray, rng):
    """A phone photo of a page under a lamp: light falling off across it (to 35%), blurred a
    little (1 to 2 pixels), grain (5% standard deviation) and JPEG at quality 40."""
    shaded = picture(shadow_gradient(gray, rng)).filter(ImageFilter.GaussianBlur(rng.uniform(1, 2)))
    grainy = picture(np.asarray(shaded, np.float32) / 255 + rng.normal(0, 0.05, gray.shape))
    buffer = io.BytesIO()
    grainy.save(buffer, "JPEG", quality=40)
    return np.asarray(Image.open(buffer), np.float32) / 255


PAPERS = {  # how a number's ink (0..1, with paper around it) is photographed
    "clean paper": lambda ink, r: 1 - 0.9 * ink,
    "lit paper (gradient, grain, blur, JPEG)": lambda ink, r: lit_paper(1 - 0.9 * ink, r),
    "ruled paper": lambda ink, r: ruled(1 - 0.9 * ink, r, spacing=30),
    "white on black": lambda ink, r: 0.1 + 0.8 * ink,
}
NUMBER_LENGTHS = (2, 6)  # numbers of 2 to 6 digits, each length as likely


# Single digits whose strokes are broken: they stay one digit, however apart their pieces.
def _pieces(ink: np.ndarray) -> int:
    """How many separate pieces of ink (8-connected, any ink above a trace) there are."""
    return len([p for p in connected_pieces(ink > 0.05, ink) if p.mass > 0.03 * ink.sum()])


def light_pen(digit, rng):
    """A light pen that skips: faint strokes (30-50% as dark as ink), broken across in 1 to 3
    places by gaps of about one of MNIST's pixels, with a trace of ink left in them."""
    ink = ink_picture(digit)
    smooth = np.asarray(picture(ink).filter(ImageFilter.GaussianBlur(4)), np.float32)
    gy, gx = np.gradient(smooth)
    ys, xs = np.nonzero(ink > 0.5)
    yy, xx = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]]
    for at in rng.choice(len(ys), int(rng.integers(1, 4)), replace=False):
        y, x = ys[at], xs[at]
        near = (slice(max(y - 10, 0), y + 11), slice(max(x - 10, 0), x + 11))
        tensor = [[(gx * gx)[near].sum(), (gx * gy)[near].sum()], [(gx * gy)[near].sum(), (gy * gy)[near].sum()]]
        across = np.linalg.eigh(tensor)[1][:, 1]  # (x, y): the way the ink changes most, across the stroke
        along = (xx - x) * -across[1] + (yy - y) * across[0]
        gap = (np.abs(along) < rng.uniform(3, 6)) & (np.abs((xx - x) * across[0] + (yy - y) * across[1]) < 24)
        ink = np.where(gap, 0.05 * ink, ink)
    return 1 - rng.uniform(0.3, 0.5) / 0.9 * (1 - on_page(ink, rng))


def _slit(ink: np.ndarray, rows: slice, columns) -> np.ndarray:
    """ink with paper cut through it: in each row of rows, the columns columns(row) -> (start, end)."""
    cut = ink.copy()
    for row in range(*rows.indices(ink.shape[0])):
        start, end = columns(row)
        cut[row, max(int(start), 0) : max(int(end), 0)] = 0
    return cut


def broken(digit: np.ndarray, label: int, rng) -> np.ndarray | None:
    """The digit drawn with a stroke that does not meet the rest, or None where this one cannot be
    broken so: a 5's bar apart from its stem, a 4's bar short of its upright, a 0 open at the top
    (and, half the time, at the bottom too)."""
    ink = ink_picture(digit)
    marked = ink > 0.3
    rows, cols = np.flatnonzero(marked.any(1)), np.flatnonzero(marked.any(0))
    top, bottom, height = rows[0], rows[-1] + 1, rows[-1] + 1 - rows[0]
    gap = rng.uniform(6, 16)  # about 1 to 2 of MNIST's pixels
    if label == 5:  # cut just right of the stem, through the top third
        band = slice(0, top + int(0.35 * height))
        stem = np.median([np.flatnonzero(r)[0] for r in marked[band] if r.any()]) + 18  # a stroke is ~18 px
        cut = _slit(ink, band, lambda row: (stem, stem + gap))
    elif label == 4:  # cut the bar just left of the upright, which is alone in the bottom third
        low = np.arange(bottom - int(0.3 * height), bottom)
        centres = [np.flatnonzero(marked[r]).mean() for r in low if marked[r].any()]
        slope, at = np.polyfit(low[: len(centres)], centres, 1)
        cut = _slit(ink, slice(0, low[0]), lambda row: (slope * row + at - 12 - gap, slope * row + at - 12))
    elif label == 0:
        ends = [top] + ([bottom - int(0.3 * height)] if rng.random() < 0.5 else [])
        cut = ink
        for start in ends:
            band = slice(start, start + int(0.3 * height))
            middle = np.flatnonzero(marked[band].any(0)).mean()
            cut = _slit(cut, band, lambda row: (middle - gap / 2, middle + gap / 2))
    else:
        return None
    if label != 0 and _pieces(cut) < 2:
        return None
    return on_page(cut, rng)


BROKEN = {  # name: (the labels it is made of, make(digit, label, rng) -> page or None)
    "light pen, strokes broken in 1-3 places": (range(10), lambda d, label, r: light_pen(d, r)),
    "5s with the bar apart": ((5,), broken),
    "4s with the bar short of the upright": ((4,), broken),
    "0s open at the top (half also at the bottom)": ((0,), broken),
}


# Pictures as people have them: MNIST's own 28x28 digit (light on dark), turned into the files
# people actually feed a digit reader, with nothing added.
def _gray(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels.astype(np.uint8))


def _tight(digit: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(digit)
    return digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _enlarged(pixels: np.ndarray, factor: float) -> np.ndarray:
    size = (max(1, round(pixels.shape[1] * factor)), max(1, round(pixels.shape[0] * factor)))
    return np.asarray(_gray(pixels).resize(size, Image.Resampling.BICUBIC))


def filling(side: int):
    """The digit filling a picture of side x side pixels (its box made square, aspect kept), dark
    on light, enlarged to 64x64 as a viewer does: a low-resolution scan or a dataset of small digits."""
    def make(digit, rng):
        crop = _tight(digit)
        square = np.zeros((max(crop.shape),) * 2, np.uint8)
        top, left = (square.shape[0] - crop.shape[0]) // 2, (square.shape[1] - crop.shape[1]) // 2
        square[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
        small = _gray(square).resize((side, side), Image.Resampling.BOX)
        return _gray(255 - np.asarray(small.resize((64, 64), Image.Resampling.BICUBIC)))
    return make


def touching_edge(digit, rng):
    """Dark on light, enlarged 4x, with a margin on two sides only: the strokes touch the other two."""
    ink = _enlarged(_tight(digit), 4)
    margins = [int(rng.integers(10, 40)) if keep else 0 for keep in rng.permutation([1, 1, 0, 0])]
    return _gray(255 - np.pad(ink, ((margins[0], margins[1]), (margins[2], margins[3]))))


def grey_border(digit, rng):
    """A screenshot of the 28x28 digit (dark on light, enlarged 4x) with a 1-pixel grey border."""
    shot = 255 - _enlarged(digit, 4)
    shot[[0, -1], :] = shot[:, [0, -1]] = 160
    return _gray(shot)


AS_THEY_ARE = {  # name: (make, target: "own" is the model's own test accuracy less 0.2 pp)
    "28x28, light on dark (as in MNIST)": (lambda d, r: _gray(d), "own"),
    "28x28, dark on light": (lambda d, r: _gray(255 - d), "own"),
    "tight crop": (lambda d, r: _gray(_tight(d)), 0.99),
    "tight crop enlarged 4-8x": (lambda d, r: _gray(_enlarged(_tight(d), r.uniform(4, 8))), 0.99),
    "strokes touching the edge": (touching_edge, 0.99),
    "8x8, filling the picture, enlarged to 64x64": (filling(8), 0.97),
    "12x12, filling the picture, enlarged to 64x64": (filling(12), 0.97),
    "1-pixel grey border": (grey_border, 0.99),
}
PLAIN_MARGIN = 0.002  # no row may fall further than this below the plain framing


def read(reader: Reader, image: Image.Image) -> str:
    """What predict reads in the picture: its digits as a string, or '?' where it refuses."""
    try:
        found = readings(image)
    except PipelineError:
        return "?"
    read = reader.digits([found])[0]
    return "?" if isinstance(read, str) else "".join(str(int(p.argmax())) for _, p in read)


def read_plain(reader: Reader, image: Image.Image) -> str:
    """The plain framing's reading: one digit, or '?' where there is no ink."""
    try:
        framed = plain_frame(image)
    except (PipelineError, ValueError):
        return "?"
    return str(int(reader.probabilities(framed[None]).argmax()))


def _share(reader: Reader, make, images: np.ndarray, labels: list[int], count: int, how=read) -> float:
    rng = np.random.default_rng(0)
    return sum(how(reader, make(images[i], rng)) == str(labels[i]) for i in range(count)) / count


def single_control(reader: Reader, name: str, images: np.ndarray, labels: list[int], count: int) -> float:
    """The share of the first `count` digits read correctly under the page control `name`."""
    make = SINGLE[name]
    return _share(reader, lambda d, r: picture(make(d, r)), images, labels, count)


def own_accuracy(reader: Reader, images: np.ndarray, labels: list[int], count: int) -> float:
    """The model's accuracy on the same test digits as MNIST has them, straight from the IDX file."""
    predicted = reader.probabilities(torch.from_numpy(images[:count])).argmax(1)
    return float((predicted == torch.tensor(labels[:count])).float().mean())


def rows_as_they_are(reader: Reader, images: np.ndarray, labels: list[int], count: int) -> list[tuple]:
    """(name, predict's share, the plain framing's, target) for each picture people have."""
    own = own_accuracy(reader, images, labels, count)
    rows = []
    for name, (make, target) in AS_THEY_ARE.items():
        rows.append((name, _share(reader, make, images, labels, count),
                     _share(reader, make, images, labels, count, read_plain), own - 0.002 if target == "own" else target))
    return rows


def rows_on_pages(reader: Reader, images: np.ndarray, labels: list[int], count: int) -> list[tuple]:
    rows = []
    for name, make in SINGLE.items():
        shown = lambda d, r, make=make: picture(make(d, r))  # noqa: E731
        rows.append((name, _share(reader, shown, images, labels, count),
                     _share(reader, shown, images, labels, count, read_plain), SINGLE_TARGET))
    for size in (2, 3):
        rng = np.random.default_rng(size)
        right = 0
        for _ in range(count):
            chosen = rng.choice(len(labels), size, replace=False)
            text = "".join(str(labels[i]) for i in chosen)
            right += read(reader, picture(number([images[i] for i in chosen], rng))) == text
        rows.append((f"{size}-digit numbers", right / count, None, NUMBER_TARGET))
    return rows


def rows_of_numbers(reader: Reader, images: np.ndarray, labels: list[int], count: int) -> list[tuple]:
    """Numbers as people photograph them, on each paper, and single digits with broken strokes."""
    rows = []
    for seed, (name, paper) in enumerate(PAPERS.items()):
        rng = np.random.default_rng(100 + seed)
        right = 0
        for _ in range(count):
            chosen = rng.choice(len(labels), int(rng.integers(NUMBER_LENGTHS[0], NUMBER_LENGTHS[1] + 1)), replace=False)
            text = "".join(str(labels[i]) for i in chosen)
            right += read(reader, picture(paper(written_number([images[i] for i in chosen], rng), rng))) == text
        rows.append((f"numbers of 2-6 digits, {name}", right / count, None, NUMBER_TARGET))
    for name, (wanted, make) in BROKEN.items():
        rng = np.random.default_rng(200)
        candidates = [i for i in range(len(labels)) if labels[i] in wanted]
        shown, truth = [], []
        for i in itertools.cycle(candidates):
            if len(shown) == count:
                break
            gray = make(images[i], labels[i], rng)
            if gray is not None:
                shown.append(picture(gray))
                truth.append(str(labels[i]))
        rows.append((name, sum(read(reader, p) == t for p, t in zip(shown, truth)) / count,
                     sum(read_plain(reader, p) == t for p, t in zip(shown, truth)) / count, BROKEN_TARGET))
    return rows


def table(title: str, rows: list[tuple]) -> tuple[str, bool]:
    """The markdown table, and whether every row met its target and stayed within PLAIN_MARGIN of
    the plain framing."""
    lines = [title, "", "| pictures | predict | plain framing | difference | target | |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    passed = True
    for name, share, plain_share, target in rows:
        ok = share >= target - 1e-9 and (plain_share is None or share >= plain_share - PLAIN_MARGIN - 1e-9)
        passed &= ok
        plain_text, difference = ("-", "-") if plain_share is None else (f"{plain_share:.1%}", f"{(share - plain_share) * 100:+.1f} pp")
        lines.append(f"| {name} | {share:.1%} | {plain_text} | {difference} | {target:.1%} | {'PASS' if ok else 'FAIL'} |")
    return "\n".join(lines), passed


def load_reader(args: argparse.Namespace) -> tuple[str, Reader, str]:
    """(the model's name, its reader, which temperature) from the arguments."""
    if args.checkpoint:
        checkpoint, name = Path(args.checkpoint), args.model or Path(args.checkpoint).parent.name
        calibration = Path(args.checkpoint).parents[2] / calibration_path(name)
    else:
        name = args.model or default_model(ROOT)[0]
        checkpoint, calibration = ROOT / paths.checkpoint(name), ROOT / calibration_path(name)
    temperature = read_temperature(Path(args.calibration) if args.calibration else calibration)
    how = f"temperature {temperature:.3g}" if temperature else "uncalibrated, temperature 1"
    return name, Reader.load(checkpoint, temperature=temperature or 1.0), how


def speed(args: argparse.Namespace, images: np.ndarray) -> None:
    """mnist-predict's wall time on 1,797 low-resolution pictures (the size of a well-known set of
    8x8 handwritten digits), start-up included, as a user runs it. With --against COMMIT, that
    commit's predict reads the same pictures too, the two in turns (A B, B A, ...), so that both
    meet the same load on a shared machine and neither always runs first."""
    checkpoint = Path(args.checkpoint) if args.checkpoint else ROOT / paths.checkpoint(args.model or default_model(ROOT)[0])
    make, rng = filling(8), np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i in range(1797):
            files.append(f"{folder}/{i:04d}.png")
            make(images[i], rng).save(files[-1])
        checkouts = {"this checkout": ROOT}
        if args.against:
            checkouts[args.against] = Path(folder) / "against"
            checkouts[args.against].mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against, "mnist_pipeline", "models", "params.yaml"], capture_output=True)
            if archive.returncode:
                raise PipelineError(f"--against {args.against}: {archive.stderr.decode().strip()}")
            subprocess.run(["tar", "-x", "-C", str(checkouts[args.against])], input=archive.stdout, check=True)
        times = {which: [] for which in checkouts}
        for round_ in range(1, args.rounds + 1):
            for which, code in list(checkouts.items())[:: 1 if round_ % 2 else -1]:  # A B, B A, ...: neither always first
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "mnist_pipeline.predict", str(checkpoint.resolve()), *files,
                                       "--jsonl"], cwd=code, capture_output=True, text=True)
                times[which].append(time.perf_counter() - start)
                print(f"round {round_}, {which}: {len(files):,} pictures in {times[which][-1]:.2f} s with {checkpoint} "
                      f"({len(done.stdout.splitlines()):,} lines out, {len(done.stderr.splitlines()):,} lines of errors, "
                      f"exit {done.returncode})", flush=True)
        for which, taken in times.items():
            print(f"{which}: median {statistics.median(taken):.2f} s, range {min(taken):.2f}-{max(taken):.2f} s "
                  f"over {len(taken)} rounds", flush=True)


SPLITS = {"validation": "val", "test": "test"}  # --split: the prepared split's file name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model name (default: predict's default)")
    parser.add_argument("--checkpoint", help="a checkpoint file instead (its calibration: <project>/metrics/<model>/)")
    parser.add_argument("--calibration", help="a calibration.json instead of the model's own")
    parser.add_argument("--split", choices=SPLITS, default="validation",
                        help="whose digits: validation (default: every rule is developed on these) or test (the result, once)")
    parser.add_argument("--count", type=int, default=1000, help="digits (or numbers) per row")
    parser.add_argument("--docs", action="store_true", help="write the tables into docs/predict.md (needs --split test)")
    parser.add_argument("--speed", action="store_true", help="time mnist-predict on 1,797 pictures instead")
    parser.add_argument("--against", metavar="COMMIT", help="with --speed: time that commit's predict too, in turns")
    parser.add_argument("--rounds", type=int, default=2, help="with --speed: runs of each (default 2)")
    parser.add_argument("--only", choices=["people", "pages", "numbers"], help="one of the three tables")
    args = parser.parse_args(argv)
    if args.docs and (args.split != "test" or args.only):
        parser.error("--docs writes the result: all three tables, on the test split (--split test)")
    project = Path(args.checkpoint).parents[2] if args.checkpoint else ROOT
    split = load_split(project / paths.prepared_split(SPLITS[args.split]))
    images, labels = split.images.numpy(), split.labels.tolist()
    if args.speed:
        speed(args, images)
        return
    name, reader, how = load_reader(args)
    digits = f"MNIST {args.split} digits"
    tables = {
        "people": (f"{name} ({how}) on {args.count:,} {digits}, as people have them "
                   f"(its own accuracy on them: {own_accuracy(reader, images, labels, args.count):.1%}):", rows_as_they_are),
        "pages": (f"{name} on {args.count:,} {digits} on photo-like pages (numbers: {args.count:,} of each length):",
                  rows_on_pages),
        "numbers": (f"{name} on numbers photographed, {args.count:,} a row, and single digits with broken strokes, "
                    f"{args.count:,} a row, from {digits}:", rows_of_numbers),
    }
    texts, passed = [], True
    for which, (title, rows) in tables.items():
        if args.only in (None, which):
            text, ok = table(title, rows(reader, images, labels, args.count))
            print(text + "\n", flush=True)
            texts.append(text)
            passed &= ok
    print("every row meets its target" if passed else "FAIL: some rows miss their targets")
    if args.docs:
        replace_block(ROOT / "docs" / "predict.md", "controls", "\n\n".join(texts) + "\n")


if __name__ == "__main__":
    main()
