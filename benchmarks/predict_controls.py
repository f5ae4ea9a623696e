"""How predict does on MNIST test digits re-framed as people photograph them.

    python -m benchmarks.predict_controls [--model model_2] [--count 1000]

Controls built from the test set (never the training data): each digit as dark ink on white
paper, then resized, cropped tight, put on a large page, given thick or thin margins, or stored
sideways with an EXIF "rotate for display" tag. Compares whole-picture resizing (what predict did
before) with MNIST's own framing (mnist_pipeline/data/framing.py). Needs `dvc repro` first.
"""

import argparse
import io

import numpy as np
import torch
from PIL import Image

from mnist_pipeline.core import paths
from mnist_pipeline.data.framing import to_mnist
from mnist_pipeline.data.splits import load_split, normalize
from mnist_pipeline.training.checkpoint import load_checkpoint, model_from_checkpoint


def resize_whole(image: Image.Image) -> torch.Tensor:
    """The old way: the whole picture resized to 28x28, inverted when its border is light."""
    pixels = np.asarray(image.convert("L").resize((28, 28), Image.Resampling.LANCZOS))
    return torch.from_numpy((255 - pixels) if np.concatenate([pixels[0], pixels[-1]]).mean() > 127 else pixels.copy())


def _paper(digit: np.ndarray) -> Image.Image:
    return Image.fromarray(255 - digit)


def _tight(digit: np.ndarray, margin: int = 0) -> Image.Image:
    rows, cols = np.nonzero(digit)
    crop = digit[max(rows.min() - margin, 0) : rows.max() + 1 + margin, max(cols.min() - margin, 0) : cols.max() + 1 + margin]
    return _paper(crop).resize((crop.shape[1] * 10, crop.shape[0] * 10), Image.Resampling.LANCZOS)


def _on_page(digit: np.ndarray, size: int, at: tuple[int, int], scale: int) -> Image.Image:
    page = Image.new("L", (size, size), 255)
    page.paste(_paper(digit).resize((28 * scale, 28 * scale), Image.Resampling.LANCZOS), at)
    return page


def _exif_sideways(digit: np.ndarray) -> Image.Image:
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    _paper(digit).resize((280, 280), Image.Resampling.LANCZOS).rotate(90, expand=True).save(buffer, "JPEG", exif=exif, quality=95)
    return Image.open(io.BytesIO(buffer.getvalue()))


CONTROLS = {
    "28x28, as in MNIST": lambda d: _paper(d),
    "upscaled to 280x280": lambda d: _paper(d).resize((280, 280), Image.Resampling.LANCZOS),
    "cropped tight to the digit": lambda d: _tight(d),
    "thin margins (2 px)": lambda d: _tight(d, 2),
    "thick margins (digit on a 400x400 page)": lambda d: _on_page(d, 400, (150, 150), 4),
    "off-centre on a 400x400 page": lambda d: _on_page(d, 400, (20, 250), 4),
    "stored sideways, EXIF-rotated": _exif_sideways,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="model_2")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    path = paths.checkpoint(args.model)
    checkpoint = load_checkpoint(path)
    model = model_from_checkpoint(checkpoint, path)
    test = load_split(paths.prepared_split("test"))
    digits, labels = test.images[: args.count].numpy(), test.labels[: args.count]

    def accuracy(frames: list[torch.Tensor]) -> float:
        with torch.inference_mode():
            logits = model(normalize(torch.stack(frames), **checkpoint["normalization"]))
        return (logits.argmax(1) == labels).float().mean().item()

    print(f"{args.model} on the first {args.count} MNIST test digits\n")
    print("| control | whole picture resized (before) | MNIST framing (now) |\n| --- | ---: | ---: |")
    for name, make in CONTROLS.items():
        pictures = [make(digit) for digit in digits]
        before = accuracy([resize_whole(p) for p in pictures])  # the old way ignored EXIF orientation too
        now = accuracy([to_mnist(p) for p in pictures])
        print(f"| {name} | {before:.1%} | {now:.1%} |")


if __name__ == "__main__":
    main()
