"""A PNG grid of misclassified test digits, each tile labelled with its true and predicted class.

Laid out as torchvision's `make_grid(tiles, nrow=columns, padding=PADDING, pad_value=255)` lays it
out (tests/test_evaluation.py compares the two pixel for pixel), but pasted with PIL: importing
torchvision costs evaluate 1.4 s (it loads torch._dynamo), more than a quick experiment may grow.
"""

import io

import torch
from PIL import Image, ImageDraw, ImageFont

SCALE = 2
LABEL_HEIGHT = 14
PADDING = 2  # white lines between the tiles


def misclassified_png(images: torch.Tensor, actual: torch.Tensor, predicted: torch.Tensor,
                      max_tiles: int = 40, columns: int = 8) -> bytes:
    """PNG bytes: the first max_tiles misclassified images (uint8 [N, 28, 28]) in test-set order."""
    wrong = (actual.cpu() != predicted.cpu()).nonzero().flatten()[:max_tiles].tolist()
    font = ImageFont.load_default()
    if wrong:
        tiles = [tile(images[i], f"t{int(actual[i])} p{int(predicted[i])}", font) for i in wrong]
        step_x, step_y = tiles[0].width + PADDING, tiles[0].height + PADDING
        shape = (min(columns, len(tiles)), -(-len(tiles) // columns))
        sheet = Image.new("L", (shape[0] * step_x + PADDING, shape[1] * step_y + PADDING), color=255)
        for slot, image in enumerate(tiles):
            sheet.paste(image, (PADDING + (slot % columns) * step_x, PADDING + (slot // columns) * step_y))
    else:
        sheet = Image.new("L", (columns * 28 * SCALE, 28 * SCALE + LABEL_HEIGHT), color=255)
        ImageDraw.Draw(sheet).text((4, 4), "no misclassified digits", fill=0, font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def tile(image: torch.Tensor, label: str, font) -> Image.Image:
    """The digit enlarged SCALE times, its label on white below."""
    canvas = Image.new("L", (28 * SCALE, 28 * SCALE + LABEL_HEIGHT), color=255)
    canvas.paste(Image.fromarray(image.cpu().numpy()).resize((28 * SCALE, 28 * SCALE), Image.NEAREST), (0, 0))
    ImageDraw.Draw(canvas).text((4, 28 * SCALE + 1), label, fill=0, font=font)
    return canvas
