"""Read digits and numbers in pictures: `mnist-predict [MODEL] IMAGE... [--json | --jsonl]`.

MODEL is a checkpoint file or a model name (its checkpoints/<name>/best.pt); without it, the model
with the best cross-validated accuracy among those whose cross-validation is current, else
model_3 (the accuracy model). Each IMAGE is a picture (PNG, JPEG, ...) of a digit or of a number
written left to right, of any size, on any paper (mnist_pipeline/data/framing.py), or an IDX file
of 28x28 images, `.gz` or not. A file that cannot be read gets one error line and the others their
answers; the exit code is 1 when any failed.
"""

import argparse
import gzip
import io
import json
import sys
import warnings
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.mnist import IMAGE_SHAPE
from mnist_pipeline.core.params import DEVICES, load_params, model_names
from mnist_pipeline.data.framing import to_mnist_digits
from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.data.splits import normalize
from mnist_pipeline.training.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_pipeline.training.device import select_device

IDX_IMAGES_MAGIC = bytes([0, 0, 8, 3])
DEFAULT_MODEL = "model_3"  # without a current cross-validation: the accuracy model


def read_inputs(path: Path) -> list[tuple[str, list[torch.Tensor]]]:
    """(name, the digits it holds, left to right, each uint8 [28, 28]) for each picture in path:
    one for an image file, one per image for an IDX file."""
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
        return [(f"{path}[{i}]", [torch.from_numpy(images[i].copy())]) for i in range(len(images))]
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: the refusal is ours
            # (below), and a large photo in between is simply read.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return [(str(path), to_mnist_digits(image, str(path)))]
    except Image.DecompressionBombError:
        raise PipelineError(f"{path}: refused: more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PipelineError(f"{path}: not a readable image or IDX file ({exc})") from None


def save_inputs(name: str, digits: list[torch.Tensor], folder: Path) -> None:
    """Each digit as the model sees it: <stem>.28x28.png, or <stem>-<i>.28x28.png for an IDX image
    or a number's i-th digit (from 1)."""
    stem = Path(name.split("[")[0]).stem + (f"-{name.rsplit('[', 1)[1][:-1]}" if name.endswith("]") else "")
    for i, pixels in enumerate(digits, start=1):
        buffer = io.BytesIO()
        Image.fromarray(pixels.numpy()).save(buffer, format="PNG")
        atomic_write_bytes(folder / f"{stem}{f'-{i}' if len(digits) > 1 else ''}.28x28.png", buffer.getvalue())


def resolve_checkpoint(model: str) -> Path:
    """A checkpoint file as given, or a model's best checkpoint in this project (from any folder)."""
    path = Path(model)
    return path if path.suffix == ".pt" or path.is_file() else paths.PROJECT_ROOT / paths.checkpoint(model)


def is_model(argument: str) -> bool:
    """A checkpoint file or a model name, not a picture: pictures are files, most with a suffix."""
    path = Path(argument)
    return path.suffix == ".pt" or (not path.exists() and not path.suffix and "/" not in argument)


def default_model() -> tuple[str, str]:
    """(model name, why it was chosen): the best current cross-validated accuracy, else DEFAULT_MODEL."""
    root = paths.PROJECT_ROOT
    try:
        names = model_names(load_params(root / paths.PARAMS_FILE))
    except PipelineError:
        names = []
    cross_validated = {}
    for name in names:
        try:
            scores = json.loads((root / paths.scores(name)).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(scores, dict) and "cv_accuracy" in scores and (root / paths.checkpoint(name)).exists():
            cross_validated[name] = scores
    if not cross_validated:
        return DEFAULT_MODEL, "the default; no model has a current cross-validation"
    best = max(cross_validated, key=lambda n: cross_validated[n]["cv_accuracy"])
    scores = cross_validated[best]
    interval = f" ± {scores['cv_ci95']:.2%}" if "cv_ci95" in scores else ""
    return best, f"the best cross-validated accuracy, {scores['cv_accuracy']:.2%}{interval}"


class Reader:
    """A loaded model that gives each picture's digits with their probabilities."""

    def __init__(self, model: torch.nn.Module, normalization: dict, device: torch.device):
        self.model, self.normalization, self.device = model.eval(), normalization, device

    @classmethod
    def load(cls, checkpoint_path: Path, device: str = "cpu") -> "Reader":
        checkpoint = load_checkpoint(checkpoint_path)
        chosen = select_device(device)
        return cls(model_from_checkpoint(checkpoint, checkpoint_path, chosen), checkpoint["normalization"], chosen)

    @torch.inference_mode()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities [N, 10] for uint8 images [N, 28, 28]."""
        x = normalize(images.to(self.device), **self.normalization)
        return torch.softmax(self.model(x), dim=1).cpu()

    def answers(self, pictures: list[tuple[str, list[torch.Tensor]]]) -> list[dict]:
        """One answer per picture: its digit and probability, or for a number the whole number and
        each digit with its probability."""
        probabilities = iter(self.probabilities(torch.stack([d for _, digits in pictures for d in digits])))
        answers = []
        for name, digits in pictures:
            read = [next(probabilities) for _ in digits]
            each = [{"digit": int(p.argmax()), "probability": round(float(p.max()), 4)} for p in read]
            if len(each) == 1:
                answers.append({"input": name, **each[0]})
            else:
                answers.append({"input": name, "number": "".join(str(d["digit"]) for d in each), "digits": each})
        return answers


def as_text(answer: dict) -> str:
    if "error" in answer:
        return f"error: {answer['error']}"
    if "number" in answer:
        digits = ", ".join(f"{d['digit']} {d['probability']:.1%}" for d in answer["digits"])
        return f"{answer['input']}: {answer['number']} ({digits})"
    return f"{answer['input']}: {answer['digit']} ({answer['probability']:.1%})"


BATCH = 256  # pictures read and predicted together before their answers are printed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="[MODEL] IMAGE",
                        help="optionally a checkpoint file or model name, then PNG/JPEG pictures or IDX image files")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON list at the end")
    output.add_argument("--jsonl", action="store_true", help="print one JSON object per line, as each is read")
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="default: cpu")
    parser.add_argument("--save-inputs", metavar="DIR", type=Path,
                        help="write each digit as the model sees it (28x28 PNG) into DIR")
    args = parser.parse_args(argv)
    if args.save_inputs and args.save_inputs.exists() and not args.save_inputs.is_dir():
        raise PipelineError(f"{args.save_inputs}: --save-inputs takes a folder (made if missing), and this is a file")
    if is_model(args.inputs[0]):
        model, images = args.inputs[0], [Path(p) for p in args.inputs[1:]]
    else:
        (model, why), images = default_model(), [Path(p) for p in args.inputs]
        print(f"using {model}: {why} (name a model first to choose another)", file=sys.stderr)
    if not images:
        raise PipelineError(f"no pictures given after the model {model}")
    reader = Reader.load(resolve_checkpoint(model), args.device)

    collected, failures = [], 0
    for start in range(0, len(images), BATCH):
        read = []  # (path, its pictures, its error), in the order given
        for path in images[start : start + BATCH]:
            try:
                read.append((path, read_inputs(path), None))
            except PipelineError as exc:
                read.append((path, [], str(exc)))
        pictures = [picture for _, found, _ in read for picture in found]
        answered = iter(reader.answers(pictures) if pictures else [])
        for path, found, error in read:
            for answer in [{"input": str(path), "error": error}] if error else [next(answered) for _ in found]:
                failures += "error" in answer
                emit(answer, args, collected)
            if args.save_inputs:
                for name, digits in found:
                    save_inputs(name, digits, args.save_inputs)
    if args.json:
        print(json.dumps(collected, indent=2))
    if failures:
        raise PipelineError(f"{failures} of {len(images)} files could not be read (each is named above)")


def emit(answer: dict, args: argparse.Namespace, collected: list) -> None:
    """An error goes to stderr as one line at once; an answer to stdout as text, a JSON line, or
    into the JSON list printed at the end."""
    if "error" in answer:
        print(as_text(answer), file=sys.stderr, flush=True)
    if args.jsonl:
        print(json.dumps(answer), flush=True)
    elif args.json:
        collected.append(answer)
    elif "error" not in answer:
        print(as_text(answer), flush=True)


def cli() -> None:
    """The `mnist-predict` console command."""
    run_command(main)


if __name__ == "__main__":
    cli()
