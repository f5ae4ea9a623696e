import gzip
import hashlib
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data import pypi_wheel


class _Py2Pickler(pickle.Pickler):
    """Pickles arrays as Python 2 did: the raw data is a latin-1 string, not bytes via _codecs."""

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            from numpy._core.multiarray import _reconstruct

            state = (1, obj.shape, obj.dtype, False, obj.tobytes().decode("latin1"))
            return _reconstruct, (np.ndarray, (0,), "b"), state
        return NotImplemented


def _dumps_py2(obj) -> bytes:
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _pickled_splits(raw):
    """The mnist.pkl.gz layout built from synthetic IDX data: float32 k/256 pixels, int64 labels."""
    from mnist_pipeline.data.idx import decode_idx

    train_x = decode_idx(raw["train-images-idx3-ubyte"], "x", 3).reshape(-1, 784) / np.float32(256)
    train_y = decode_idx(raw["train-labels-idx1-ubyte"], "y", 1).astype(np.int64)
    test_x = decode_idx(raw["t10k-images-idx3-ubyte"], "x", 3).reshape(-1, 784) / np.float32(256)
    test_y = decode_idx(raw["t10k-labels-idx1-ubyte"], "y", 1).astype(np.int64)
    cut = len(train_y) - 100
    splits = ((train_x[:cut], train_y[:cut]), (train_x[cut:], train_y[cut:]), (test_x, test_y))
    return gzip.compress(_dumps_py2(splits), mtime=0)


def _wheel(member: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(pypi_wheel.PICKLE_MEMBER, member)
    return buffer.getvalue()


def _sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_rebuilds_idx_files_byte_for_byte(raw_files):
    compressed = _pickled_splits(raw_files)
    wheel = _wheel(compressed)
    member = pypi_wheel.pickle_from_wheel(wheel, "wheel", _sha(wheel), _sha(compressed))
    assert pypi_wheel.idx_files_from_pickle(member, "pickle") == raw_files


@pytest.mark.slow
def test_wheel_and_member_digests_are_enforced(raw_files):
    compressed = _pickled_splits(raw_files)
    wheel = _wheel(compressed)
    with pytest.raises(PipelineError, match="wheel: SHA-256 .* does not match the pinned"):
        pypi_wheel.pickle_from_wheel(wheel, "wheel", "0" * 64, _sha(compressed))
    with pytest.raises(PipelineError, match="mnist.pkl.gz: SHA-256 .* does not match the pinned"):
        pypi_wheel.pickle_from_wheel(wheel, "wheel", _sha(wheel), "0" * 64)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload", [_Exploit(), {"f": eval}, np.float64(1.0)])
def test_unpickler_refuses_other_globals(payload):
    with pytest.raises(PipelineError, match="refused to unpickle: global '.*' is not allowed"):
        pypi_wheel.load_arrays(pickle.dumps(payload, protocol=2), "untrusted")


def test_unpickler_allows_plain_arrays():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(3))
    loaded = pypi_wheel.load_arrays(_dumps_py2(arrays), "ok")
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(loaded, arrays))


@pytest.mark.slow
def test_pixels_that_are_not_k_over_256_are_refused(raw_files):
    splits = pypi_wheel.load_arrays(gzip.decompress(_pickled_splits(raw_files)), "ok")
    (x, y), valid, test = splits
    x = x.copy()
    x[0, 0] = 0.3
    bad = gzip.compress(_dumps_py2(((x, y), valid, test)))
    with pytest.raises(PipelineError, match="not k/256"):
        pypi_wheel.idx_files_from_pickle(bad, "pickle")
