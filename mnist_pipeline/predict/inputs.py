"""The files predict is given -> their pictures' readings; and the digits as the model saw them."""

import io
import warnings
import zlib
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes, gunzip_bounded, read_bounded
from mnist_pipeline.core.mnist import IMAGE_SHAPE
from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.predict.framing import Readings, readings

IDX_IMAGES_MAGIC = bytes([0, 0, 8, 3])
# The most predict reads of a file, and unpacks of a `.gz`: 64 MiB, above MNIST's largest file (its
# 60,000 training images, 47 MB) and a camera's photo. /dev/zero or a gzip bomb costs no more memory.
MAX_INPUT_BYTES = 64 * 2**20


def read_inputs(path: Path) -> list[tuple[str, Readings]]:
    """(name, its readings) for each picture in path: one for an image file, one per image for an
    IDX file (already framed as MNIST's, read as it is)."""
    try:
        data = read_bounded(path, MAX_INPUT_BYTES)
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise PipelineError(f"{path}: larger than the {MAX_INPUT_BYTES:,} bytes predict reads of a file; not read further")
    if not data:
        raise PipelineError(f"{path}: empty file")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gunzip_bounded(data, MAX_INPUT_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise PipelineError(f"{path}: not a valid gzip file ({exc})") from None
        if len(data) > MAX_INPUT_BYTES:
            raise PipelineError(f"{path}: unpacks to more than the {MAX_INPUT_BYTES:,} bytes predict reads of a file "
                                "(a decompression bomb?); stopped there")
    if data[:4] == IDX_IMAGES_MAGIC:
        images = decode_idx(data, str(path), ndim=3)
        if images.shape[1:] != IMAGE_SHAPE:
            raise PipelineError(f"{path}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
        if not len(images):
            raise PipelineError(f"{path}: holds no images")
        return [(f"{path}[{i}]", Readings(torch.from_numpy(images[i].copy()))) for i in range(len(images))]
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: the refusal is ours
            # (below), and a large photo in between is simply read.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return [(str(path), readings(image, str(path)))]
    except Image.DecompressionBombError:
        raise PipelineError(f"{path}: refused: more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PipelineError(f"{path}: not a readable image or IDX file ({exc})") from None


def save_inputs(name: str, digits: list[torch.Tensor], folder: Path) -> None:
    """Each digit as the model saw it: <stem>.28x28.png, or <stem>-<i>.28x28.png for an IDX image
    or a number's i-th digit (from 1)."""
    stem = Path(name.split("[")[0]).stem + (f"-{name.rsplit('[', 1)[1][:-1]}" if name.endswith("]") else "")
    for i, pixels in enumerate(digits, start=1):
        buffer = io.BytesIO()
        Image.fromarray(pixels.numpy()).save(buffer, format="PNG")
        atomic_write_bytes(folder / f"{stem}{f'-{i}' if len(digits) > 1 else ''}.28x28.png", buffer.getvalue())
