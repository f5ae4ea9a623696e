import pytest

from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.data.splits import normalize, split_train_val
from mnist_pipeline.training.checkpoint import save_checkpoint
from tests.project import build
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


@pytest.fixture(scope="module")
def always_four(tmp_path_factory):
    """A model_1 checkpoint that reads every picture as a 4, sure of it."""
    state = {k: v.clone() for k, v in build("model_1").state_dict().items()}
    state["fc2.weight"].zero_()
    state["fc2.bias"].zero_()
    state["fc2.bias"][4] = 30.0
    path = tmp_path_factory.mktemp("four") / "four.pt"
    save_checkpoint(path, state, "model_1", {}, epoch=1, val_accuracy=0.0)
    return path
