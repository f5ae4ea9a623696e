"""How predict reads MNIST test digits drawn the way people photograph them.

    python -m benchmarks.predict_controls [--model NAME] [--count 1000] [--docs]

Each control turns MNIST test digits (never the training data) into photo-like pictures: dark ink
on a 400x400 page, then a shadow, ruled or squared paper, noise and JPEG, blur, a low-resolution
source, a thinner or thicker pen, a slant; and numbers of two and three digits side by side. Every
picture goes through what `mnist-predict` does to a picture (framing, paper, digits), and a
picture counts as read only when every digit in it is. Targets: 97% for every single-digit
control, 95% for numbers. Needs `dvc repro` first; the model is predict's default unless named.
`--docs` also writes the table into docs/predict.md.
"""

import argparse
import io

import numpy as np
import torch
from PIL import Image, ImageFilter

from benchmarks.common import ROOT
from mnist_pipeline.core import paths
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.framing import to_mnist_digits
from mnist_pipeline.data.splits import load_split
from mnist_pipeline.predict import Reader, default_model
from mnist_pipeline.readme import replace_block

PAGE, SCALE = 400, 8  # a digit is drawn 8x (224 px) on a 400x400 page, about a phone photo's crop
SINGLE_TARGET, NUMBER_TARGET = 0.97, 0.95


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


def ruled(gray, rng, squared=False):
    """Blue-grey lines 2 px wide: ruled every 60 px (about a third of the digit), or a 40 px grid."""
    spacing = 40 if squared else 60
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


def read(reader: Reader, image: Image.Image) -> str:
    """What predict reads in the picture: its digits as a string, or '?' where it refuses."""
    try:
        frames = to_mnist_digits(image)
    except PipelineError:
        return "?"
    return "".join(str(d) for d in reader.probabilities(torch.stack(frames)).argmax(1).tolist())


def single_control(reader: Reader, name: str, images: np.ndarray, labels: list[int], count: int) -> float:
    """The share of the first `count` digits read correctly under the control `name`."""
    rng = np.random.default_rng(0)
    make = SINGLE[name]
    return sum(read(reader, picture(make(images[i], rng))) == str(labels[i]) for i in range(count)) / count


def controls(reader: Reader, images: np.ndarray, labels: list[int], count: int) -> list[tuple]:
    rows = []
    for name in SINGLE:
        rows.append((name, single_control(reader, name, images, labels, count), SINGLE_TARGET))
    for size in (2, 3):
        rng = np.random.default_rng(size)
        right = 0
        for _ in range(count):
            chosen = rng.choice(len(labels), size, replace=False)
            text = "".join(str(labels[i]) for i in chosen)
            right += read(reader, picture(number([images[i] for i in chosen], rng))) == text
        rows.append((f"{size}-digit numbers", right / count, NUMBER_TARGET))
    return rows


def table(model_name: str, count: int, rows: list[tuple]) -> str:
    lines = [f"{model_name} on {count:,} MNIST test digits (numbers: {count:,} of each length), read as "
             "`mnist-predict` reads a picture:", "", "| control | read correctly | target |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {share:.1%} | {'✓' if share >= target else '✗'} {target:.0%} |" for name, share, target in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model name (default: predict's default)")
    parser.add_argument("--count", type=int, default=1000, help="test digits per control")
    parser.add_argument("--docs", action="store_true", help="write the table into docs/predict.md")
    args = parser.parse_args(argv)
    name = args.model or default_model()[0]
    reader = Reader.load(ROOT / paths.checkpoint(name))
    test = load_split(ROOT / paths.prepared_split("test"))
    images, labels = test.images.numpy(), test.labels.tolist()
    text = table(name, args.count, controls(reader, images, labels, args.count))
    print(text)
    if args.docs:
        replace_block(ROOT / "docs" / "predict.md", "controls", text + "\n")


if __name__ == "__main__":
    main()
