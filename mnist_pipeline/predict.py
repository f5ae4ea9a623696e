"""Predict digits with a trained model: `python -m mnist_pipeline.predict MODEL IMAGE... [--json]`.

MODEL is a checkpoint file or a model name (its checkpoints/<name>/best.pt). Each IMAGE is a
PNG/JPEG of one digit, of any size, framed as MNIST's digits were (mnist_pipeline/data/framing.py),
or an IDX file of 28x28 images, `.gz` or not.
"""

import argparse
import gzip
import io
import json
import warnings
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.mnist import IMAGE_SHAPE
from mnist_pipeline.core.params import DEVICES
from mnist_pipeline.data.framing import to_mnist
from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.data.splits import normalize
from mnist_pipeline.training.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_pipeline.training.device import select_device

IDX_IMAGES_MAGIC = bytes([0, 0, 8, 3])


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
        if not len(images):
            raise PipelineError(f"{path}: holds no images")
        return [(f"{path}[{i}]", torch.from_numpy(images[i].copy())) for i in range(len(images))]
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: the refusal is ours
            # (below), and a large photo in between is simply read.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return [(str(path), to_mnist(image, str(path)))]
    except Image.DecompressionBombError:
        raise PipelineError(f"{path}: refused: more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PipelineError(f"{path}: not a readable image or IDX file ({exc})") from None


def save_inputs(inputs: list[tuple[str, torch.Tensor]], folder: Path) -> None:
    for name, pixels in inputs:
        stem = Path(name.split("[")[0]).stem + (f"-{name.rsplit('[', 1)[1][:-1]}" if name.endswith("]") else "")
        buffer = io.BytesIO()
        Image.fromarray(pixels.numpy()).save(buffer, format="PNG")
        atomic_write_bytes(folder / f"{stem}.28x28.png", buffer.getvalue())


def resolve_checkpoint(model: str) -> Path:
    """A checkpoint file as given, or a model's best checkpoint in this project (from any folder)."""
    path = Path(model)
    return path if path.suffix == ".pt" or path.is_file() else paths.PROJECT_ROOT / paths.checkpoint(model)


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
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="default: cpu")
    parser.add_argument("--save-inputs", metavar="DIR", type=Path,
                        help="write each picture as the model sees it (28x28 PNG) into DIR")
    args = parser.parse_args(argv)
    if args.save_inputs and args.save_inputs.exists() and not args.save_inputs.is_dir():
        raise PipelineError(f"{args.save_inputs}: --save-inputs takes a folder (made if missing), and this is a file")

    inputs = [item for path in args.images for item in read_inputs(path)]
    if args.save_inputs:
        save_inputs(inputs, args.save_inputs)
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


def cli() -> None:
    """The `mnist-predict` console command."""
    run_command(main)


if __name__ == "__main__":
    cli()
