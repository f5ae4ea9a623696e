"""Pictures as people have them: a 28x28 file, a tight crop, a digit filling a small picture. Each
cleanup predict knows (paper, ruled lines, splitting a number) must act only where the picture
shows that it applies; these are the pictures where it did not (issue 38).

The digits are drawn here, MNIST-style (light strokes 2 pixels wide in 28x28), and read with a
model that answers "4" to everything with full confidence: what changes between the old reader
and this one is what the model is shown and whether a picture is cut into several digits.
"""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.predict.command import main
from mnist_pipeline.predict.digits import connected_pieces
from mnist_pipeline.predict.framing import _bridged, frame, plain_frame, stroke_width, to_mnist


def _mnist_style(strokes) -> Image.Image:
    """28x28, light on dark: strokes [(points, ...)] in 28x28 coordinates, 2 pixels wide, anti-aliased."""
    big = Image.new("L", (224, 224), 0)
    draw = ImageDraw.Draw(big)
    for points in strokes:
        draw.line([(x * 8, y * 8) for x, y in points], fill=255, width=16)
    return big.resize((28, 28), Image.Resampling.BOX)


FOUR = [[(9, 5), (7, 16), (17, 16)], [(18, 6), (18, 24)]]
FOUR_APART = [[(9, 5), (7, 16), (15, 16)], [(19, 6), (19, 24)]]  # the right stroke does not meet the bar
SEVEN = [[(7, 6), (20, 6)], [(19, 6), (17, 24)]]


def _tight(image: Image.Image) -> Image.Image:
    return image.crop(image.getbbox())


def _zero_filling(side: int) -> Image.Image:
    """A narrow 0 filling a side x side picture, enlarged to 64x64 as a viewer does, dark on light."""
    big = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(big).ellipse([35, 4, 125, 156], outline=255, width=24)
    small = big.resize((side, side), Image.Resampling.BOX)
    return ImageOps.invert(small.resize((64, 64), Image.Resampling.BICUBIC))


def _read(tmp_path, checkpoint, picture: Image.Image, name: str, capsys) -> tuple[dict, list[np.ndarray]]:
    """predict's answer for the picture, and the 28x28 images the model was shown."""
    path = tmp_path / f"{name}.png"
    picture.save(path)
    seen = tmp_path / f"seen-{name}"
    main([str(checkpoint), str(path), "--json", "--save-inputs", str(seen)])
    [answer] = json.loads(capsys.readouterr().out)
    return answer, [np.asarray(Image.open(p), np.float32) for p in sorted(seen.iterdir())]


def _similar(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_a_28x28_file_is_one_digit_when_the_model_reads_it_as_one(tmp_path, always_four, capsys):
    answer, seen = _read(tmp_path, always_four, _mnist_style(FOUR_APART), "four", capsys)
    assert "number" not in answer and answer["digit"] == 4 and len(seen) == 1


def test_a_tight_crop_keeps_every_stroke(tmp_path, always_four, capsys):
    _, [whole] = _read(tmp_path, always_four, _mnist_style(FOUR), "whole", capsys)
    answer, seen = _read(tmp_path, always_four, _tight(_mnist_style(FOUR)), "crop", capsys)
    assert len(seen) == 1 and _similar(seen[0], whole) > 0.9
    assert seen[0][:, 16:].max() > 200  # the 4's right stroke is still there


def test_a_cropped_seven_keeps_its_bar(tmp_path, always_four, capsys):
    _, [whole] = _read(tmp_path, always_four, _mnist_style(SEVEN), "whole", capsys)
    _, seen = _read(tmp_path, always_four, _tight(_mnist_style(SEVEN)), "crop", capsys)
    assert len(seen) == 1 and _similar(seen[0], whole) > 0.9
    ink = seen[0] > 128
    top = np.flatnonzero(ink.any(axis=1))[0]
    assert ink[top : top + 3].sum(axis=1).max() >= 8  # a bar across the top, not a 1


@pytest.mark.parametrize("side", [8, 12])
def test_a_zero_filling_a_small_picture_is_one_ring(tmp_path, always_four, capsys, side):
    answer, seen = _read(tmp_path, always_four, _zero_filling(side), f"zero{side}", capsys)
    assert "number" not in answer and len(seen) == 1
    ink = seen[0] > 100
    rows = np.flatnonzero(ink.any(axis=1))
    middle = ink[(rows[0] + rows[-1]) // 2]
    assert np.ptp(np.flatnonzero(middle)) >= 6  # both sides of the ring at mid-height, not one stroke


def _on_page(digit: Image.Image, lines: bool = False, specks: bool = False) -> Image.Image:
    """The 28x28 digit enlarged 8x, dark on a light 400x400 page; with grey ruled lines every 60
    pixels, or with three dark specks of noise far from the writing."""
    page = np.full((400, 400), 255, np.uint8)
    page[90:314, 60:284] = 255 - np.asarray(digit.resize((224, 224), Image.Resampling.BICUBIC))
    if lines:
        for at in range(20, 400, 60):
            page[at : at + 2] = np.minimum(page[at : at + 2], 140)
    if specks:
        for y, x in ((12, 380), (385, 15), (390, 390)):
            page[y : y + 2, x : x + 2] = 0
    return Image.fromarray(page)


def test_a_ruled_page_is_read_cleaned_however_sure_the_model_is_of_the_lines(tmp_path, always_four, capsys):
    """The model reads a ruled page with its lines as confidently as without them (here: both "4",
    equally sure): the cleaned page stands, since the picture shows ruling."""
    _, [clean] = _read(tmp_path, always_four, _on_page(_mnist_style(SEVEN)), "clean", capsys)
    _, [ruled] = _read(tmp_path, always_four, _on_page(_mnist_style(SEVEN), lines=True), "ruled", capsys)
    assert _similar(ruled, clean) > 0.9


def test_specks_far_from_the_digit_do_not_shrink_it(tmp_path, always_four, capsys):
    _, [clean] = _read(tmp_path, always_four, _on_page(_mnist_style(FOUR)), "clean", capsys)
    _, [specked] = _read(tmp_path, always_four, _on_page(_mnist_style(FOUR), specks=True), "specked", capsys)
    assert _similar(specked, clean) > 0.9


@pytest.mark.parametrize("digit", [FOUR, SEVEN])
def test_a_blurred_digit_filling_its_picture_is_not_taken_for_paper(digit):
    """A digit filling an 8x8 picture, enlarged to 64x64: its strokes are wide and soft, and a fitted
    paper surface follows them. Read as one digit, it is the plain framing of the whole digit, not
    the stroke or two the paper fit left."""
    small = _tight(_mnist_style(digit)).resize((8, 8), Image.Resampling.BOX)
    picture = ImageOps.invert(small.resize((64, 64), Image.Resampling.BICUBIC))
    assert _similar(to_mnist(picture).numpy(), plain_frame(picture).numpy()) > 0.95


@pytest.mark.parametrize("pen", [2, 6])
def test_a_thin_pen_is_widened_to_mnists_usual_stroke(pen):
    """A 7 written with a fine pen on a 400x400 page (pen pixels wide on a 290-pixel-tall digit: well
    under a pixel once framed) reaches about MNIST's median stroke width, 1.9 pixels."""
    page = Image.new("L", (400, 400), 255)
    ImageDraw.Draw(page).line([(80, 60), (300, 60), (200, 350)], fill=0, width=pen)
    framed = to_mnist(page).numpy().astype(np.float32)
    assert stroke_width(framed) >= 1.7  # MNIST: 1.9 median


def test_an_8x8_digit_as_it_is_is_not_taken_for_a_page():
    """A 1 written in an 8x8 picture, as low-resolution digit sets keep them (light on dark): its
    faint ends touch the edges, and the paper fit drops them, leaving writing one pixel inside.
    That is not a page: read as it is, the 1 is its plain framing."""
    one = np.array([[0, 0, 0, 0, 191, 175, 16, 0], [0, 0, 0, 16, 255, 255, 112, 0], [0, 0, 16, 223, 255, 255, 112, 0],
                    [0, 16, 223, 255, 223, 255, 128, 0], [0, 80, 191, 48, 128, 255, 112, 0],
                    [0, 0, 0, 0, 128, 255, 64, 0], [0, 0, 0, 0, 128, 255, 16, 0], [0, 0, 0, 0, 175, 191, 0, 0]], np.uint8)
    picture = Image.fromarray(one)
    assert _similar(to_mnist(picture).numpy(), plain_frame(picture).numpy()) > 0.99


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(hyperparameters=[1, 2]), "hyperparameters is \\[1, 2\\], not a mapping"),
    (lambda c: c.update(state_dict="x"), "state_dict is 'x', not a mapping of names to tensors"),
    (lambda c: c["normalization"].update(mean="a"), "normalization is .*, not a finite mean and std"),
    (lambda c: c["state_dict"]["fc2.bias"].fill_(math.nan), "weights hold NaN or infinite values \\(fc2.bias"),
])
def test_checkpoints_of_the_wrong_structure_are_one_line(tmp_path, always_four, edit, message):
    checkpoint = torch.load(always_four, weights_only=True)
    edit(checkpoint)
    path = tmp_path / "edited.pt"
    torch.save(checkpoint, path)
    picture = tmp_path / "four.png"
    _mnist_style(FOUR).save(picture)
    with pytest.raises(PipelineError, match=f"edited.pt: {message}"):
        main([str(path), str(picture)])


def test_options_may_stand_among_the_files(tmp_path, always_four, capsys):
    pictures = []
    for name in ("a", "b"):
        pictures.append(str(tmp_path / f"{name}.png"))
        _mnist_style(FOUR).save(pictures[-1])
    main([str(always_four), "--json", *pictures])
    assert len(json.loads(capsys.readouterr().out)) == 2
    main([str(always_four), pictures[0], "--save-inputs", str(tmp_path / "seen"), pictures[1], "--jsonl"])
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert sorted(p.name for p in (tmp_path / "seen").iterdir()) == ["a.28x28.png", "b.28x28.png"]


def test_a_model_named_in_a_project_reads_its_calibration(tmp_path, always_four, monkeypatch, capsys):
    import shutil

    (tmp_path / ".dvc").mkdir()
    (tmp_path / "checkpoints" / "model_1").mkdir(parents=True)
    shutil.copy(always_four, tmp_path / "checkpoints" / "model_1" / "best.pt")
    monkeypatch.chdir(tmp_path)
    picture = tmp_path / "four.png"
    _mnist_style(FOUR).save(picture)
    checkpoint = tmp_path / "checkpoints" / "model_1" / "best.pt"

    main(["model_1", str(picture), "--json"])
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == (f"using {checkpoint} (named); probabilities uncalibrated "
                                            "(no metrics/model_1/calibration.json; `dvc repro` writes it)")
    sure = json.loads(captured.out)[0]["probability"]
    calibration = tmp_path / "metrics" / "model_1" / "calibration.json"
    calibration.parent.mkdir(parents=True)
    calibration.write_text(json.dumps({"temperature": 15.0, "ece": 0.01}))
    main(["model_1", str(picture), "--json"])
    captured = capsys.readouterr()
    assert "probabilities calibrated (temperature 15)" in captured.err.splitlines()[0]
    assert json.loads(captured.out)[0]["probability"] < sure  # logits / 15: a 4, far less sure
    for bad in ("{", '{"temperature": 0}', '{"temperature": "1"}', "[]"):
        calibration.write_text(bad)
        with pytest.raises(PipelineError, match="calibration.json: not a calibration"):
            main(["model_1", str(picture)])


def _ring(thickness: int, break_width: int = 0, width: int = 120) -> np.ndarray:
    """A 0's ink on a large page (160 pixels tall, as in a phone photo), broken across its top by
    break_width pixels."""
    page = Image.new("L", (width + 180, 260), 0)
    ImageDraw.Draw(page).ellipse([(90, 50), (90 + width, 210)], outline=255, width=thickness)
    ink = np.asarray(page, np.float32) / 255
    middle = 90 + width // 2
    ink[:, middle - break_width // 2 : middle + (break_width + 1) // 2] *= 0.05  # a pen that skipped
    return ink


def _eyes(framed) -> int:
    """How many regions of paper the framed digit's ink (at half strength or more) encloses."""
    return int(_enclosed_regions(framed.numpy() < 0.5 * 255))


def _enclosed_regions(paper: np.ndarray) -> int:
    height, width = paper.shape
    return sum(r.top > 0 and r.left > 0 and r.bottom < height and r.right < width for r in connected_pieces(paper, paper))


def test_a_break_left_by_a_pen_that_skips_is_closed():
    """A 0 broken across its top by a gap of 6 pixels (under a framed pixel) is read closed, as
    MNIST's pens drew it; the plain framing keeps it open, a C or a 6 to the model."""
    assert _eyes(frame(_ring(20, 6))) == 1
    assert _eyes(frame(_ring(20, 6), cleanup=False)) == 0


def test_closing_breaks_never_fills_an_eye_the_writing_encloses():
    """A narrow 0 whose eye (10 pixels) is narrower than the closing: the eye stays as dark as the
    plain framing leaves it (closed over, it was 72 of 255 at its darkest)."""
    ink = _ring(20, width=50)
    eye = (slice(6, 22), slice(12, 16))
    assert frame(ink).numpy()[eye].min() <= frame(ink, cleanup=False).numpy()[eye].min() == 0


def test_a_gap_a_skipping_pen_left_between_pieces_is_bridged():
    """A 0 cut through top and bottom by gaps of 12 pixels (1.5 framed pixels, too wide for the
    closing every stroke gets) is read closed: the gaps lie between two pieces of the digit. Gaps of
    30 pixels are not a pen's skip and stay open."""
    assert _eyes(frame(_ring(20, 12))) == 1
    assert _eyes(frame(_ring(20, 12), cleanup=False)) == 0
    assert _eyes(frame(_ring(20, 30))) == 0


def test_bridging_adds_ink_only_between_the_digits_pieces():
    """A speck beside a broken 0, as close to it as its gaps are wide, is not bridged to it: only
    ink touching two of the digit's own pieces is added."""
    ink = _ring(20, 12)
    ink[128:132, 118:122] = 1  # a speck 8 pixels inside the ring's left side (x 90..110)
    added = _bridged(ink) - ink
    assert added[:, 140:160].sum() > 0  # the gaps at the top and bottom (x 144..156)
    assert added[:, 90:135].sum() == 0
