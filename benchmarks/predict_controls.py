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
from mnist_pipeline.predict.framing import plain_frame, readings
from mnist_pipeline.predict.project import default_model
from mnist_pipeline.predict.reader import Reader
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
    8x8 handwritten digits), start-up included, as a user runs it."""
    checkpoint = Path(args.checkpoint) if args.checkpoint else ROOT / paths.checkpoint(args.model or default_model(ROOT)[0])
    make, rng = filling(8), np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i in range(1797):
            files.append(f"{folder}/{i:04d}.png")
            make(images[i], rng).save(files[-1])
        for round_ in (1, 2):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "mnist_pipeline.predict", str(checkpoint), *files, "--jsonl"],
                                  cwd=ROOT, capture_output=True, text=True)
            took = time.perf_counter() - start
            answered = len(done.stdout.splitlines())
            print(f"round {round_}: {len(files):,} pictures in {took:.2f} s with {checkpoint} "
                  f"({answered:,} answers, exit {done.returncode})", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model name (default: predict's default)")
    parser.add_argument("--checkpoint", help="a checkpoint file instead (its calibration: <project>/metrics/<model>/)")
    parser.add_argument("--calibration", help="a calibration.json instead of the model's own")
    parser.add_argument("--count", type=int, default=1000, help="test digits per row")
    parser.add_argument("--docs", action="store_true", help="write the tables into docs/predict.md")
    parser.add_argument("--speed", action="store_true", help="time mnist-predict on 1,797 pictures instead")
    parser.add_argument("--only", choices=["people", "pages"], help="one of the two tables")
    args = parser.parse_args(argv)
    test = load_split(ROOT / paths.prepared_split("test")) if not args.checkpoint else load_split(
        Path(args.checkpoint).parents[2] / paths.prepared_split("test"))
    images, labels = test.images.numpy(), test.labels.tolist()
    if args.speed:
        speed(args, images)
        return
    name, reader, how = load_reader(args)
    texts, passed = [], True
    if args.only != "pages":
        text, ok = table(f"{name} ({how}) on {args.count:,} MNIST test digits, as people have them "
                         f"(its own test accuracy on them: {own_accuracy(reader, images, labels, args.count):.1%}):",
                         rows_as_they_are(reader, images, labels, args.count))
        print(text + "\n", flush=True)
        texts.append(text)
        passed &= ok
    if args.only != "people":
        text, ok = table(f"{name} on {args.count:,} MNIST test digits on photo-like pages (numbers: {args.count:,} of "
                         "each length):", rows_on_pages(reader, images, labels, args.count))
        print(text + "\n", flush=True)
        texts.append(text)
        passed &= ok
    print("every row meets its target" if passed else "FAIL: some rows miss their targets")
    if args.docs and not args.only:
        replace_block(ROOT / "docs" / "predict.md", "controls", "\n\n".join(texts) + "\n")


if __name__ == "__main__":
    main()
