import pytest

from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.data.splits import normalize, split_train_val
from tests.synthetic import make_raw, sha256_of, write_mirror


@pytest.fixture(scope="session")
def raw_files():
    return make_raw()


@pytest.fixture(scope="session")
def raw_digests(raw_files):
    return sha256_of(raw_files)


@pytest.fixture
def mirror(tmp_path, raw_files):
    return write_mirror(tmp_path / "mirror", raw_files)


@pytest.fixture(scope="session")
def data(raw_files):
    """Normalized (train_x, train_y, val_x, val_y) tensors of the synthetic set, 100 held out."""
    images = decode_idx(raw_files["train-images-idx3-ubyte"], "x", 3)
    labels = decode_idx(raw_files["train-labels-idx1-ubyte"], "y", 1)
    train, val = split_train_val(images, labels, val_size=100, seed=0)
    return normalize(train.images), train.labels, normalize(val.images), val.labels
