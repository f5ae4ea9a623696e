"""Numbers as people photograph them (issue 48): digits of similar height side by side with paper
between them are a number, whatever the model makes of them squeezed into one frame; digits that
touch are cut at their thinnest column before they are refused; a single digit whose strokes are
broken stays one digit.

The model here reads every picture as a 4, fully sure: the whole number squeezed into one frame is
as sure a digit as each of its parts, so only what the picture shows can make it a number.
"""

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.predict.command import main
from mnist_pipeline.predict.framing import to_mnist_digits

HEIGHT = 120  # of the written digits, in pixels


def _digit(draw: ImageDraw.ImageDraw, kind: str, x: int, y: int, fill: int = 0) -> int:
    """A pen-drawn 4, 7 or 1 at (x, y), HEIGHT tall; its width."""
    s = HEIGHT / 28
    if kind == "4":
        draw.line([(x + 12 * s, y + 28 * s), (x + 12 * s, y), (x, y + 18 * s), (x + 18 * s, y + 18 * s)], fill=fill, width=round(3 * s))
        return round(18 * s)
    if kind == "7":
        draw.line([(x, y), (x + 16 * s, y), (x + 6 * s, y + 28 * s)], fill=fill, width=round(3 * s))
        return round(16 * s)
    draw.line([(x + 2 * s, y), (x + 2 * s, y + 28 * s)], fill=fill, width=round(3 * s))
    return round(4 * s)


def _number(digits: str, gaps: list[int], margin: int = 60) -> Image.Image:
    """The digits written left to right, dark on white, with these gaps (pixels) between them."""
    s = HEIGHT / 28
    width = sum(round({"4": 18, "7": 16, "1": 4}[d] * s) + round(3 * s) for d in digits) + sum(gaps) + 2 * margin
    page = Image.new("L", (width, HEIGHT + 2 * margin), 255)
    draw = ImageDraw.Draw(page)
    x = margin
    for i, kind in enumerate(digits):
        x += _digit(draw, kind, x, margin) + round(3 * s) + (gaps[i] if i < len(gaps) else 0)
    return page


def _lit(page: Image.Image, seed: int = 0) -> Image.Image:
    """Photographed under a lamp: light falling to 40% across the page, a little blur, grain, JPEG."""
    gray = np.asarray(page.filter(ImageFilter.GaussianBlur(1.5)), np.float32) / 255
    light = np.linspace(1.0, 0.4, gray.shape[1])[None, :]
    grain = np.random.default_rng(seed).normal(0, 0.04, gray.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.round((gray * light + grain).clip(0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=40)
    return Image.open(buffer)


def _answer(tmp_path, checkpoint, picture: Image.Image, capsys) -> dict:
    path = tmp_path / "number.png"
    picture.save(path)
    main([str(checkpoint), str(path), "--json"])
    [answer] = json.loads(capsys.readouterr().out)
    return answer


def test_a_four_digit_number_on_lit_paper_is_read_as_four_digits(tmp_path, always_four, capsys):
    """Gaps of 4 pixels (3% of the digits' height, under what the reader once took for clean paper),
    and a model as sure of the squeezed whole as of each digit: once read as one digit, "4"."""
    answer = _answer(tmp_path, always_four, _lit(_number("4714", [4, 5, 4])), capsys)
    assert answer.get("number") == "4444" and len(answer["digits"]) == 4


def _shaded(page: Image.Image, seed: int = 0) -> Image.Image:
    """Photographed with a shadow falling down the page: light from 100% at the top to 35% at the
    bottom, a little blur, grain, JPEG."""
    gray = np.asarray(page.filter(ImageFilter.GaussianBlur(1.3)), np.float32) / 255
    light = np.linspace(1.0, 0.35, gray.shape[0])[:, None]
    grain = np.random.default_rng(seed).normal(0, 0.05, gray.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.round((gray * light + grain).clip(0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=40)
    return Image.open(buffer)


def test_a_number_with_its_digits_apart_is_not_refused_as_touching(tmp_path, always_four, capsys):
    """Six digits 12 pixels apart, the photo cropped close to the row's ends, a shadow down the page:
    the row spans the picture's width, so it was taken for a crop, the shadow stayed as ink joining
    every digit, and the number was refused as "digits that touch" (or, by a model as sure of the
    squeezed whole as this one, read as one digit)."""
    answer = _answer(tmp_path, always_four, _shaded(_number("474147", [12] * 5, margin=40)), capsys)
    assert "error" not in answer and answer.get("number") == "444444"


def test_a_long_number_keeps_its_gaps_in_a_wide_photo(tmp_path, always_four, capsys):
    """Six digits with 6-pixel gaps in a photo 1,700 pixels wide: the pieces of ink are found on a
    small copy of the picture, whose gaps must not close."""
    picture = _number("474147", [6, 7, 6, 6, 7], margin=600)
    assert picture.width > 1600
    answer = _answer(tmp_path, always_four, picture, capsys)
    assert answer.get("number") == "444444"


def test_digits_that_touch_are_cut_at_their_thinnest_column():
    """Two 4s whose bars a thin stroke joins (a pen that did not lift): cut in the join."""
    page = _number("44", [30])
    ImageDraw.Draw(page).line([(60 + 77, 137), (60 + 77 + 13 + 30 + 3, 137)], fill=0, width=4)
    framed = to_mnist_digits(page)
    alone = to_mnist_digits(_number("4", []))[0].float().flatten()
    assert len(framed) == 2
    similar = [np.corrcoef(f.float().flatten(), alone)[0, 1] for f in framed]
    assert similar[0] > 0.95 and similar[1] > 0.7  # the second 4 keeps half the join, on its bar's left


def test_writing_too_wide_for_a_digit_without_a_thin_join_is_refused_in_one_line():
    page = _number("444", [0, 0])
    ImageDraw.Draw(page).rectangle([(60, 60), (60 + 3 * 90, 60 + 100)], fill=0)  # one blot across all three
    with pytest.raises(PipelineError, match=r"blot.png: the writing at x=\d+..\d+ looks like digits that touch"):
        to_mnist_digits(page, "blot.png")


@pytest.mark.parametrize("gap", [4, 10])
def test_a_four_whose_bar_falls_short_of_its_upright_stays_one_digit(tmp_path, always_four, capsys, gap):
    """The two strokes of a 4 apart, side by side: the model, sure of the whole, breaks the tie."""
    s = HEIGHT / 28
    page = Image.new("L", (400, 300), 255)
    draw = ImageDraw.Draw(page)
    draw.line([(100, 60), (100 - 6 * s, 60 + 18 * s), (100 + 6 * s, 60 + 18 * s)], fill=0, width=round(3 * s))
    upright = 100 + 6 * s + 1.5 * s + gap + 1.5 * s
    draw.line([(upright, 60), (upright, 60 + 28 * s)], fill=0, width=round(3 * s))
    answer = _answer(tmp_path, always_four, page, capsys)
    assert "number" not in answer and answer["digit"] == 4
    assert len(to_mnist_digits(page)) == 1  # without a model: the picture shows no number either


def test_a_one_written_close_beside_a_four_is_not_overlooked(tmp_path, always_four, capsys):
    """A 1 ten pixels from a 4 (8% of their height), the two no wider than one and a half digits:
    the picture leaves the choice to the model, which reads the squeezed pair as a 4, as sure of it
    as of each part. A whole read as one of its parts has overlooked the other: once answered "4"."""
    page = _number("14", [0])
    assert len(to_mnist_digits(page)) == 1  # without a model, the picture alone shows no number
    answer = _answer(tmp_path, always_four, page, capsys)
    assert answer.get("number") == "44"
