import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.idx import decode_idx, encode_idx
from mnist_pipeline.predict.command import main
from mnist_pipeline.predict.framing import to_mnist, to_mnist_digits
from mnist_pipeline.predict.inputs import read_inputs
from mnist_pipeline.training.checkpoint import load_checkpoint, save_checkpoint
from mnist_pipeline.training.device import make_deterministic
from mnist_pipeline.training.loop import fit
from tests.project import ROOT, build, train_params


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


def test_a_model_name_means_the_dvc_project_the_user_stands_in(tmp_path, monkeypatch, checkpoint, capsys):
    import importlib
    import shutil

    import tomllib

    from mnist_pipeline.predict.project import resolve_checkpoint
    from tests.project import ROOT

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["mnist-predict"]
    module, function = target.split(":")
    assert callable(getattr(importlib.import_module(module), function))
    other = tmp_path / "other-clone"
    (other / ".dvc").mkdir(parents=True)
    (other / "checkpoints" / "model_1").mkdir(parents=True)
    shutil.copy(checkpoint, other / "checkpoints" / "model_1" / "best.pt")
    (other / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(other / "deep" / "er")  # anywhere inside the other clone
    assert resolve_checkpoint("model_2", Path.cwd().parents[1]) == other / "checkpoints" / "model_2" / "best.pt"
    picture = other / "seven.png"
    _stroke_digit().save(picture)
    main(["model_1", str(picture)])
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"using {other / 'checkpoints' / 'model_1' / 'best.pt'} ") and "uncalibrated" in first

    monkeypatch.chdir(tmp_path)  # in no DVC project: a name means nothing, a file still works
    with pytest.raises(PipelineError, match="model name 'model_1' needs a DVC project.*name a checkpoint file"):
        main(["model_1", str(picture)])
    with pytest.raises(PipelineError, match="choosing a model needs a DVC project"):
        main([str(picture)])
    main([str(checkpoint), str(picture)])
    assert capsys.readouterr().err.startswith(f"using {checkpoint} ")


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


def _similar(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.float().flatten(), b.float().flatten()]))[0, 1])


def _four(page: Image.Image, x: int, y: int, scale: int = 6) -> None:
    """A '4'-like pen stroke at (x, y) on page."""
    draw = ImageDraw.Draw(page)
    draw.line([(x + 12 * scale, y + 28 * scale), (x + 12 * scale, y), (x, y + 18 * scale), (x + 18 * scale, y + 18 * scale)],
              fill=0, width=3 * scale)


def test_a_shadow_across_the_paper_is_not_ink():
    page = _stroke_digit()
    reference = to_mnist(page)
    gray = np.asarray(page, np.float32)
    falloff = np.linspace(1.0, 0.3, gray.shape[1])[None, :]  # the light falls to 30% across the page
    shadowed = Image.fromarray((gray * falloff).astype(np.uint8))
    assert _similar(to_mnist_digits(shadowed)[0], reference) > 0.95
    assert len(to_mnist_digits(shadowed)) == 1


@pytest.mark.parametrize("squared", [False, True])
def test_ruled_and_squared_paper_lines_are_not_ink(squared):
    page = _stroke_digit()
    reference = to_mnist(page)
    lined = np.asarray(page).copy()
    for at in range(15, 400, 45):
        lined[at : at + 3] = np.minimum(lined[at : at + 3], 140)  # grey lines across the whole page
        if squared:
            lined[:, at : at + 3] = np.minimum(lined[:, at : at + 3], 140)
    framed = to_mnist_digits(Image.fromarray(lined))
    assert len(framed) == 1 and _similar(framed[0], reference) > 0.9


def _faint_seven(height: int, lines_every: int = 0) -> np.ndarray:
    """A page (0..1) with a 7: its bar in dark ink, its stem faint (35% as dark); with grey lines
    2 pixels wide every `lines_every` pixels from the top, where asked."""
    page = Image.new("L", (320, height), 255)
    draw = ImageDraw.Draw(page)
    draw.line([(110, 60), (210, 60)], fill=25, width=14)
    draw.line([(205, 60), (160, 190)], fill=166, width=14)
    gray = np.asarray(page, np.float32) / 255
    if lines_every:
        for at in range(0, height, lines_every):
            gray[at : at + 2] = np.minimum(gray[at : at + 2], 0.55)
    return gray


def test_ruling_is_not_taken_for_the_papers_grain():
    """On ruled paper a faint stroke keeps its ink: the paper's noise, below which nothing is ink,
    is measured without the ruling (with it, the floor took a fifth of all ink, and the faint stem
    kept 0.35 of what it has on plain paper)."""
    from mnist_pipeline.predict.paper import ink_map

    stem = (slice(90, 170), slice(150, 215))
    plain, ruled = ink_map(_faint_seven(242)), ink_map(_faint_seven(242, lines_every=30))
    assert ruled[stem].sum() >= 0.85 * plain[stem].sum() > 0


def test_a_number_is_read_digit_by_digit_left_to_right(tmp_path):
    from mnist_pipeline.predict.reader import Reader

    page = Image.new("L", (700, 400), 255)
    _four(page, 60, 100)
    seven = _stroke_digit(size=400, offset=(0, 0))  # the 7 drawn at the top left of its own page
    page.paste(seven.crop((0, 0, 150, 220)), (400, 100))
    framed = to_mnist_digits(page)
    alone = Image.new("L", (400, 400), 255)
    _four(alone, 60, 100)
    assert len(framed) == 2
    assert _similar(framed[0], to_mnist(alone)) > 0.95 and _similar(framed[1], to_mnist(seven)) > 0.95
    path = tmp_path / "47.png"
    page.save(path)

    class TallIsSure(torch.nn.Module):
        """Sure of a 4 when the framed ink is a digit's full 20 rows tall, unsure of anything else."""

        def forward(self, x):
            rows = (x[:, 0] > 0).any(dim=2).sum(dim=1)
            logits = torch.zeros(len(x), 10)
            logits[:, 4] = torch.where(rows >= 18, 30.0, 0.0)
            return logits

    reader = Reader(TallIsSure(), {"mean": 0.1307, "std": 0.3081}, torch.device("cpu"))
    [(answer, seen)] = reader.answers(read_inputs(path))
    assert answer["number"] == "44" and len(seen) == 2  # each part a sure digit, the squeezed whole not
    assert all(d["probability"] == 1.0 for d in answer["digits"])
    alone.save(tmp_path / "4.png")
    [(answer, seen)] = reader.answers(read_inputs(tmp_path / "4.png"))
    assert answer["digit"] == 4 and len(seen) == 1


@pytest.mark.slow  # over 2 s on 2 idle cores: the fast tier stays under a minute
def test_one_bad_file_among_many_costs_only_its_own_answer(tmp_path, checkpoint, capsys):
    good = tmp_path / "seven.png"
    _stroke_digit().save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    inputs = [str(good)] * 300 + [str(bad)] + [str(good)] * 10  # the bad one in the second batch of 256
    with pytest.raises(PipelineError, match="1 of 311 files could not be read"):
        main([str(checkpoint), *inputs, "--jsonl"])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 311 and [line["input"] for line in lines] == inputs
    assert "error" in lines[300] and all("digit" in line for i, line in enumerate(lines) if i != 300)
    assert err.count("error: ") == 1 and "broken.png: not a readable image" in err


def test_without_a_model_named_predict_takes_the_best_cross_validated_one(tmp_path):
    from mnist_pipeline.core import paths
    from mnist_pipeline.predict import project

    for name, cv in [("model_1", 0.985), ("model_3", 0.992), ("model_4", None)]:
        (tmp_path / paths.checkpoint(name)).parent.mkdir(parents=True)
        (tmp_path / paths.checkpoint(name)).write_bytes(b"x")
        (tmp_path / paths.scores(name)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / paths.scores(name)).write_text(json.dumps({"test_accuracy": 0.99, **({"cv_accuracy": cv} if cv else {})}))
    (tmp_path / "params.yaml").write_text("models: {model_1: {}, model_3: {}, model_4: {}}\n")
    assert project.default_model(tmp_path)[0] == "model_3"
    (tmp_path / paths.scores("model_3")).write_text(json.dumps({"cv_accuracy": 0.99443, "cv_ci95": 0.00079}))
    # Its interval named, as crossval/report.md writes it ("±" is a standard deviation in every table).
    assert project.default_model(tmp_path) == ("model_3", "the best cross-validated accuracy, 99.44%, 95% interval 99.36 to 99.52%")
    (tmp_path / paths.scores("model_3")).write_text(json.dumps({"test_accuracy": 0.99}))  # its CV went stale
    assert project.default_model(tmp_path)[0] == "model_1"
    (tmp_path / paths.scores("model_1")).unlink()
    assert project.default_model(tmp_path) == (project.DEFAULT_MODEL, "the default; no model has a current cross-validation")
    assert project.is_model("model_2") and project.is_model("x.pt") and not project.is_model("seven.png")


def test_a_model_name_without_its_checkpoint_says_how_to_get_one(tmp_path, monkeypatch):
    from mnist_pipeline.core.errors import PipelineError
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    _stroke_digit().save(tmp_path / "seven.png")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError, match=r"no checkpoint of model_4 in this project yet: train it with `dvc repro train@model_4`"):
        main(["model_4", "seven.png"])
    from mnist_pipeline.core.params import model_names
    from tests.project import project_params

    listed = ", ".join(model_names(project_params()))
    with pytest.raises(PipelineError, match=rf"unknown model 'model_9' \(this project's: {listed}\)"):
        main(["model_9", "seven.png"])
