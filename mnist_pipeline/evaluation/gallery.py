"""A PNG sheet of misclassified test digits: a caption saying which errors it shows and how to read
the labels, then the digits, each over "4 read as 8" (its true class, then the predicted one).

The grid under the caption is laid out as torchvision's `make_grid(tiles, nrow=columns,
padding=PADDING, pad_value=255)` lays it out (tests/test_evaluation.py compares the two pixel for
pixel), but pasted with PIL: importing torchvision costs evaluate 1.4 s (it loads torch._dynamo),
more than a quick experiment may grow.
"""

import io

import torch
from PIL import Image, ImageDraw, ImageFont

SCALE = 2
LABEL_HEIGHT = 14
PADDING = 2  # white lines between the tiles
CAPTION_HEIGHT = 30  # two lines of text above the grid
MARGIN = 4  # left of every text


def misclassified_png(images: torch.Tensor, actual: torch.Tensor, predicted: torch.Tensor,
                      max_tiles: int = 40, columns: int = 8) -> bytes:
    """PNG bytes: the first max_tiles misclassified images (uint8 [N, 28, 28]) in test-set order."""
    wrong = (actual.cpu() != predicted.cpu()).nonzero().flatten().tolist()
    shown = wrong[:max_tiles]
    font = ImageFont.load_default()
    if shown:
        tiles = [tile(images[i], label(int(actual[i]), int(predicted[i])), font) for i in shown]
        step_x, step_y = tiles[0].width + PADDING, tiles[0].height + PADDING
        shape = (min(columns, len(tiles)), -(-len(tiles) // columns))
        lines = caption(len(shown), len(wrong))
        width = max(shape[0] * step_x + PADDING, MARGIN + max(int(font.getlength(line)) for line in lines) + MARGIN)
        sheet = Image.new("L", (width, CAPTION_HEIGHT + shape[1] * step_y + PADDING), color=255)
        draw = ImageDraw.Draw(sheet)
        for row, line in enumerate(lines):
            draw.text((MARGIN, 4 + 13 * row), line, fill=0, font=font)
        for slot, image in enumerate(tiles):
            x, y = PADDING + (slot % columns) * step_x, CAPTION_HEIGHT + PADDING + (slot // columns) * step_y
            sheet.paste(image, (x, y))
    else:
        sheet = Image.new("L", (columns * 28 * SCALE, 28 * SCALE + LABEL_HEIGHT), color=255)
        ImageDraw.Draw(sheet).text((MARGIN, 4), "No misclassified test digits.", fill=0, font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def caption(shown: int, total: int) -> tuple[str, str]:
    """Which of the errors the sheet shows, and how to read a tile's label."""
    if shown < total:
        which = f"The first {shown} of {total} misclassified test digits, in test-set order."
    else:
        which = f"All {total} misclassified test digits, in test-set order." if total > 1 else \
            "The one misclassified test digit."
    return which, '"4 read as 8": a true 4 that the model predicted as 8.'


def label(actual: int, predicted: int) -> str:
    return f"{actual} read as {predicted}"


def tile(image: torch.Tensor, text: str, font) -> Image.Image:
    """The digit enlarged SCALE times, its label on white below."""
    canvas = Image.new("L", (28 * SCALE, 28 * SCALE + LABEL_HEIGHT), color=255)
    canvas.paste(Image.fromarray(image.cpu().numpy()).resize((28 * SCALE, 28 * SCALE), Image.NEAREST), (0, 0))
    ImageDraw.Draw(canvas).text((MARGIN, 28 * SCALE + 1), text, fill=0, font=font)
    return canvas
