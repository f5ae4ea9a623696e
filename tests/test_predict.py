import gzip
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.idx import decode_idx, encode_idx
from mnist_pipeline.predict import main, read_inputs, to_mnist
from mnist_pipeline.training.checkpoint import save_checkpoint
from mnist_pipeline.training.device import make_deterministic
from mnist_pipeline.training.loop import fit
from tests.project import build, train_params


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data):
    make_deterministic(0)
    model = build("model_1")
    fit(model, *data, train_params(batch_size=32, epochs=3, lr=0.003), log=lambda s: None)
    path = tmp_path_factory.mktemp("predict") / "model.pt"
    save_checkpoint(path, model.state_dict(), "model_1", {}, epoch=3, val_accuracy=0.0)
    return path


@pytest.fixture(scope="module")
def digits(raw_files):
    images = decode_idx(raw_files["t10k-images-idx3-ubyte"], "x", 3)[:10]
    labels = decode_idx(raw_files["t10k-labels-idx1-ubyte"], "y", 1)[:10]
    return images, labels


def test_pictures_are_made_mnist_like():
    digit = np.zeros((28, 28), np.uint8)
    digit[8:20, 12:16] = 255
    paper = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.NEAREST)  # dark ink on white
    converted = to_mnist(paper.convert("RGB"))
    assert converted.shape == (28, 28) and converted.dtype == torch.uint8
    assert converted[14, 14] > 200 and converted[2, 2] < 30  # inverted: light digit, dark background
    dark = to_mnist(Image.fromarray(digit).resize((56, 56)))
    assert dark[14, 14] > 200 and dark[2, 2] < 30  # already light on dark: kept


def test_transparent_background_counts_as_paper():
    rgba = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 255), (16, 8, 24, 32))
    converted = to_mnist(rgba)
    assert converted[14, 14] > 200 and converted[1, 1] < 30


def test_images_and_idx_agree(tmp_path, checkpoint, digits, capsys):
    images, labels = digits
    idx = tmp_path / "digits.idx.gz"
    idx.write_bytes(gzip.compress(encode_idx(images)))
    pictures = []
    for i, (fmt, size) in enumerate([("png", 84), ("jpeg", 56), ("png", 28)]):
        path = tmp_path / f"digit{i}.{fmt}"
        Image.fromarray(255 - images[i]).resize((size, size), Image.Resampling.NEAREST).save(path)
        pictures.append(str(path))
    main([str(checkpoint), str(idx), *pictures, "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [row["input"] for row in rows[:2]] == [f"{idx}[0]", f"{idx}[1]"]
    assert len(rows) == 13 and all(0 <= row["digit"] <= 9 and 0 < row["probability"] <= 1 for row in rows)
    by_idx, by_picture = [row["digit"] for row in rows[:3]], [row["digit"] for row in rows[10:]]
    assert by_picture == by_idx
    assert sum(row["digit"] == label for row, label in zip(rows[:10], labels)) >= 8  # it learned the synthetic set

    main([str(checkpoint), pictures[0]])
    assert capsys.readouterr().out == f"{pictures[0]}: {by_idx[0]} ({rows[10]['probability']:.1%})\n"


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty file"), (b"hello", "not a readable image or IDX file"), (b"\x1f\x8bxx", "not a valid gzip file")],
)
def test_unreadable_inputs(tmp_path, content, message):
    path = tmp_path / "input.png"
    path.write_bytes(content)
    with pytest.raises(PipelineError, match=f"input.png: {message}"):
        read_inputs(path)


def test_checkpoint_of_another_architecture(tmp_path, checkpoint, digits):
    wrong = tmp_path / "wrong.pt"
    state = torch.load(checkpoint, weights_only=True)
    state.update(model="model_2", hyperparameters={"dropout": 0.2})
    torch.save(state, wrong)
    picture = tmp_path / "d.png"
    Image.fromarray(digits[0][0]).save(picture)
    with pytest.raises(PipelineError, match="wrong.pt: weights do not match architecture 'model_2'"):
        main([str(wrong), str(picture)])
