"""Predict digits with a trained model: `python -m mnist_pipeline.predict MODEL IMAGE... [--json]`.

MODEL is a checkpoint file or a model name (its checkpoints/<name>/best.pt). Each IMAGE is a
PNG/JPEG of any size (made grayscale, resized to 28x28, inverted when its background is light,
as MNIST digits are light on dark) or an IDX file of images, `.gz` or not.
"""

import argparse
import gzip
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import IMAGE_SHAPE
from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.data.splits import normalize
from mnist_pipeline.training.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_pipeline.training.device import select_device

IDX_IMAGES_MAGIC = bytes([0, 0, 8, 3])


def to_mnist(image: Image.Image) -> torch.Tensor:
    """A picture as an MNIST-like uint8 [28, 28] tensor: light digit on a dark background."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)  # transparent = paper
    gray = image.convert("L").resize(IMAGE_SHAPE[::-1], Image.Resampling.LANCZOS)
    pixels = torch.from_numpy(np.asarray(gray, dtype=np.uint8).copy())
    border = torch.cat([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).float()
    return 255 - pixels if border.mean() > 127 else pixels


def read_inputs(path: Path) -> list[tuple[str, torch.Tensor]]:
    """(name, uint8 [28, 28]) for each image in path."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read ({exc.strerror})") from None
    if not data:
        raise PipelineError(f"{path}: empty file")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise PipelineError(f"{path}: not a valid gzip file ({exc})") from None
    if data[:4] == IDX_IMAGES_MAGIC:
        images = decode_idx(data, str(path), ndim=3)
        if images.shape[1:] != IMAGE_SHAPE:
            raise PipelineError(f"{path}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
        return [(f"{path}[{i}]", torch.from_numpy(images[i].copy())) for i in range(len(images))]
    try:
        with Image.open(path) as image:
            image.load()
            return [(str(path), to_mnist(image))]
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PipelineError(f"{path}: not a readable image or IDX file ({exc})") from None


def resolve_checkpoint(model: str) -> Path:
    path = Path(model)
    return path if path.suffix == ".pt" or path.is_file() else paths.checkpoint(model)


@torch.inference_mode()
def predict(checkpoint_path: Path, images: torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """Class probabilities [N, 10] for uint8 images [N, 28, 28]."""
    checkpoint = load_checkpoint(checkpoint_path)
    target = select_device(device)
    model = model_from_checkpoint(checkpoint, checkpoint_path, target)
    x = normalize(images.to(target), **checkpoint["normalization"])
    return torch.softmax(model(x), dim=1).cpu()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="checkpoint file, or model name (uses checkpoints/<name>/best.pt)")
    parser.add_argument("images", nargs="+", type=Path, help="PNG/JPEG images or IDX image files")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of text")
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps (default cpu)")
    args = parser.parse_args(argv)

    inputs = [item for path in args.images for item in read_inputs(path)]
    probabilities = predict(resolve_checkpoint(args.model), torch.stack([x for _, x in inputs]), args.device)
    results = [
        {"input": name, "digit": int(p.argmax()), "probability": round(float(p.max()), 4)}
        for (name, _), p in zip(inputs, probabilities)
    ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for row in results:
            print(f"{row['input']}: {row['digit']} ({row['probability']:.1%})")


if __name__ == "__main__":
    run_command(main)
