import numpy as np
import pytest

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import TRAIN_IMAGES, TRAIN_LABELS
from mnist_pipeline.data.idx import decode_idx, encode_idx
from mnist_pipeline.data.splits import read_pair, split_train_val
from tests.synthetic import write_raw


def test_round_trip_keeps_shape_and_values():
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    data = encode_idx(array)
    assert data[:4] == bytes([0, 0, 8, 3])
    assert np.array_equal(decode_idx(data, "x", ndim=3), array)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: b"\x00\x00\x09" + d[3:], "bad IDX magic"),
        (lambda d: d[:-1], "truncated"),
        (lambda d: d + b"\x00", "trailing bytes"),
        (lambda d: d[:6], "truncated IDX header"),
        (lambda d: b"", "too short"),
    ],
)
def test_malformed_files_name_the_file(mutate, message):
    data = encode_idx(np.zeros((3, 28, 28), dtype=np.uint8))
    with pytest.raises(PipelineError, match=f"images.idx: .*{message}"):
        decode_idx(mutate(data), "images.idx", ndim=3)


def test_wrong_dimension_count():
    with pytest.raises(PipelineError, match="2 dimensions, expected 3"):
        decode_idx(encode_idx(np.zeros((3, 28), dtype=np.uint8)), "f", ndim=3)


def _pair(tmp_path, images, labels):
    write_raw(tmp_path, {TRAIN_IMAGES: encode_idx(images), TRAIN_LABELS: encode_idx(labels)})
    return read_pair(tmp_path, TRAIN_IMAGES, TRAIN_LABELS)


def test_counts_that_disagree(tmp_path):
    with pytest.raises(PipelineError, match="5 images but .* has 4 labels"):
        _pair(tmp_path, np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8))


def test_images_of_the_wrong_size(tmp_path):
    with pytest.raises(PipelineError, match=r"images are \(27, 28\)"):
        _pair(tmp_path, np.zeros((4, 27, 28), np.uint8), np.zeros(4, np.uint8))


def test_labels_out_of_range(tmp_path):
    with pytest.raises(PipelineError, match="label 12 outside 0..9"):
        _pair(tmp_path, np.zeros((2, 28, 28), np.uint8), np.array([1, 12], np.uint8))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(PipelineError, match=f"{TRAIN_IMAGES}: cannot read"):
        read_pair(tmp_path, TRAIN_IMAGES, TRAIN_LABELS)


def test_split_is_seeded_disjoint_and_complete():
    images = np.arange(100, dtype=np.uint8).repeat(784).reshape(100, 28, 28)
    labels = (np.arange(100) % 10).astype(np.uint8)
    train, val = split_train_val(images, labels, val_size=20, seed=3)
    again_train, again_val = split_train_val(images, labels, val_size=20, seed=3)
    other_train, _ = split_train_val(images, labels, val_size=20, seed=4)
    assert (len(train), len(val)) == (80, 20)
    ids = lambda split: set(split.images[:, 0, 0].tolist())  # pixel value == original index
    assert ids(train).isdisjoint(ids(val)) and ids(train) | ids(val) == set(range(100))
    assert ids(again_val) == ids(val) and ids(train) != ids(other_train)
    assert train.labels.tolist() == [i % 10 for i in sorted(ids(train))]


def test_val_size_must_leave_training_images():
    images, labels = np.zeros((10, 28, 28), np.uint8), np.zeros(10, np.uint8)
    with pytest.raises(PipelineError, match=r"preprocess.val_size: invalid value 10 \(allowed: 1..9"):
        split_train_val(images, labels, val_size=10, seed=0)


def test_reads_the_same_bytes_as_torchvisions_mnist_reader(tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    (tmp_path / "i").write_bytes(encode_idx(images))
    (tmp_path / "l").write_bytes(encode_idx(labels))
    assert np.array_equal(read_image_file(str(tmp_path / "i")).numpy(), decode_idx((tmp_path / "i").read_bytes(), "i", ndim=3))
    assert np.array_equal(read_label_file(str(tmp_path / "l")).numpy(), decode_idx((tmp_path / "l").read_bytes(), "l", ndim=1))
    (tmp_path / "i").write_bytes(encode_idx(images) + b"\0")  # torchvision's error names no file; ours does
    with pytest.raises(RuntimeError, match="is invalid for input of size"):
        read_image_file(str(tmp_path / "i"))
    with pytest.raises(PipelineError, match="trailing bytes"):
        decode_idx((tmp_path / "i").read_bytes(), "i", ndim=3)
