import gzip
import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.framing import to_mnist
from mnist_pipeline.data.idx import decode_idx, encode_idx
from mnist_pipeline.predict import main, read_inputs
from mnist_pipeline.training.checkpoint import load_checkpoint, save_checkpoint
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


def _stroke_digit(size=400, offset=(60, 220), scale=6, background=255, ink=0) -> Image.Image:
    """A '7'-like pen stroke, dark on light, somewhere on a page."""
    page = Image.new("L", (size, size), background)
    draw = ImageDraw.Draw(page)
    x, y = offset
    draw.line([(x, y), (x + 18 * scale, y), (x + 8 * scale, y + 28 * scale)], fill=ink, width=3 * scale)
    return page


def _box_and_centre(pixels: torch.Tensor):
    rows, cols = np.nonzero(pixels.numpy() > 0)
    ys, xs = np.indices(pixels.shape)
    mass = pixels.numpy().astype(float)
    centre = ((ys * mass).sum() / mass.sum(), (xs * mass).sum() / mass.sum())
    return max(rows.max() - rows.min(), cols.max() - cols.min()) + 1, centre


def test_a_digit_anywhere_on_a_page_is_framed_as_mnist():
    framed = to_mnist(_stroke_digit())
    side, (cy, cx) = _box_and_centre(framed)
    assert framed.dtype == torch.uint8 and framed.shape == (28, 28) and framed.max() == 255
    assert 19 <= side <= 21 and abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert framed[0].max() == 0 and framed[:, 0].max() == 0  # dark paper, light ink


def test_framing_does_not_depend_on_page_size_crop_or_polarity():
    page = _stroke_digit()
    reference = to_mnist(page).float()
    box = ImageOps.invert(page).getbbox()
    variants = {
        "tight crop": page.crop(box),
        "thick margins": _stroke_digit(size=900, offset=(500, 100)),
        "light on dark": ImageOps.invert(page),
        "small": page.resize((100, 100), Image.Resampling.LANCZOS),
    }
    for name, picture in variants.items():
        assert torch.corrcoef(torch.stack([to_mnist(picture).float().flatten(), reference.flatten()]))[0, 1] > 0.9, name


def test_exif_orientation_and_transparency_are_honoured(tmp_path):
    page = _stroke_digit()
    reference = to_mnist(page)
    sideways = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display after turning 90 degrees clockwise
    page.rotate(90, expand=True).save(sideways, exif=exif, quality=95)
    with Image.open(sideways) as image:
        turned = to_mnist(image)
    assert torch.corrcoef(torch.stack([turned.float().flatten(), reference.float().flatten()]))[0, 1] > 0.9

    strokes = Image.new("RGBA", page.size, (255, 255, 255, 0))  # white ink on a transparent page
    strokes.putalpha(ImageOps.invert(page))
    assert torch.equal(to_mnist(strokes), reference)
    sixteen = Image.fromarray(np.asarray(page, np.uint16) * 257)  # a 16-bit grayscale PNG
    assert torch.equal(to_mnist(sixteen), reference)


@pytest.mark.parametrize("picture", [
    Image.new("L", (50, 50), 255), Image.new("L", (1, 1), 0), Image.new("RGBA", (20, 20), (0, 0, 0, 0)),
    Image.fromarray(np.full((40, 40), 120, np.uint8) + (np.arange(40) % 3).astype(np.uint8)),
])
def test_pictures_without_a_digit_are_refused(picture):
    with pytest.raises(PipelineError, match="no digit found"):
        to_mnist(picture, "x.png")


def test_images_and_idx_agree(tmp_path, checkpoint, digits, capsys):
    images, labels = digits
    idx = tmp_path / "digits.idx.gz"
    idx.write_bytes(gzip.compress(encode_idx(images)))
    main([str(checkpoint), str(idx), "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [row["input"] for row in rows] == [f"{idx}[{i}]" for i in range(10)]
    assert all(0 <= row["digit"] <= 9 and 0 < row["probability"] <= 1 for row in rows)
    assert sum(row["digit"] == label for row, label in zip(rows, labels)) >= 8  # it learned the synthetic set

    pictures = []
    for fmt, size in [("png", 84), ("jpeg", 56), ("png", 28)]:
        path = tmp_path / f"digit{size}.{fmt}"
        _stroke_digit().resize((size, size), Image.Resampling.LANCZOS).save(path)
        pictures.append(str(path))
    main([str(checkpoint), *pictures, "--json", "--save-inputs", str(tmp_path / "seen")])
    rows = json.loads(capsys.readouterr().out)
    assert len({row["digit"] for row in rows}) == 1  # the same digit at any size is framed the same
    seen = sorted(p.name for p in (tmp_path / "seen").iterdir())
    assert seen == ["digit28.28x28.png", "digit56.28x28.png", "digit84.28x28.png"]
    with Image.open(tmp_path / "seen" / "digit84.28x28.png") as image:
        assert image.size == (28, 28)

    main([str(checkpoint), pictures[0]])
    assert capsys.readouterr().out == f"{pictures[0]}: {rows[0]['digit']} ({rows[0]['probability']:.1%})\n"


def test_bad_inputs_and_checkpoints_are_one_line(tmp_path, checkpoint, monkeypatch):
    empty = tmp_path / "empty.idx"
    empty.write_bytes(encode_idx(np.zeros((0, 28, 28), np.uint8)))
    with pytest.raises(PipelineError, match="empty.idx: holds no images"):
        read_inputs(empty)
    huge = tmp_path / "huge.idx"
    huge.write_bytes(bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") * 3)
    with pytest.raises(PipelineError, match="huge.idx: truncated"):
        read_inputs(huge)
    big = tmp_path / "big.png"
    Image.new("L", (64, 64), 255).save(big)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(PipelineError, match="big.png: refused: more than 200 pixels"):
        read_inputs(big)

    state = torch.load(checkpoint, weights_only=True)
    for name, edit, message in [
        ("keys.pt", lambda c: c.pop("state_dict"), "incomplete checkpoint \\(no state_dict\\)"),
        ("std.pt", lambda c: c["normalization"].update(std=0.0), "bad normalization"),
    ]:
        edited = {**state, "normalization": dict(state["normalization"])}
        edit(edited)
        torch.save(edited, tmp_path / name)
        with pytest.raises(PipelineError, match=f"{name}: {message}"):
            load_checkpoint(tmp_path / name)
    flipped = bytearray(checkpoint.read_bytes())
    at = flipped.find(b"data/0") + 200  # inside the first tensor's bytes, past its header
    flipped[at] ^= 0xFF
    flipped[at + 1] ^= 0xFF
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    with pytest.raises(PipelineError, match="flipped.pt: damaged: .* fails its CRC check"):
        load_checkpoint(tmp_path / "flipped.pt")


def test_unknown_device_is_refused_by_the_command_line(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(checkpoint), "x.png", "--device", "banana"])
    assert exit_info.value.code == 2 and "invalid choice: 'banana'" in capsys.readouterr().err


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


def test_the_console_command_finds_a_models_checkpoint_from_any_folder(tmp_path, monkeypatch):
    import importlib

    import tomllib

    from mnist_pipeline.predict import resolve_checkpoint
    from tests.project import ROOT

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["mnist-predict"]
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function))
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint("model_2") == ROOT / "checkpoints" / "model_2" / "best.pt"
    assert resolve_checkpoint("mine.pt") == tmp_path / "mine.pt" or resolve_checkpoint("mine.pt").name == "mine.pt"


def test_save_inputs_onto_a_file_is_one_line_before_any_work(tmp_path, checkpoint):
    picture = tmp_path / "seven.png"
    _stroke_digit().save(picture)
    before = picture.read_bytes()
    with pytest.raises(PipelineError, match="seven.png: --save-inputs takes a folder"):
        main([str(checkpoint), str(picture), "--save-inputs", str(picture)])
    assert picture.read_bytes() == before
    main([str(checkpoint), str(picture), "--save-inputs", str(tmp_path / "new" / "deeper")])  # made as needed
    assert (tmp_path / "new/deeper/seven.28x28.png").exists()


def test_a_large_photo_under_the_limit_is_read_without_pillows_warning(tmp_path, monkeypatch, recwarn):
    big = tmp_path / "big.png"
    _stroke_digit().save(big)  # 400 x 400 = 160,000 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # Pillow warns above this, refuses above twice
    assert len(read_inputs(big)) == 1
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
