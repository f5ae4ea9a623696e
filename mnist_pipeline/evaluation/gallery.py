"""A PNG grid of misclassified test digits, each tile labelled with its true and predicted class."""

import io

import torch
from PIL import Image, ImageDraw, ImageFont

SCALE = 2
LABEL_HEIGHT = 14


def misclassified_png(images: torch.Tensor, actual: torch.Tensor, predicted: torch.Tensor,
                      max_tiles: int = 40, columns: int = 8) -> bytes:
    """PNG bytes: the first max_tiles misclassified images (uint8 [N, 28, 28]) in test-set order."""
    wrong = (actual.cpu() != predicted.cpu()).nonzero().flatten()[:max_tiles].tolist()
    tile_w, tile_h = 28 * SCALE, 28 * SCALE + LABEL_HEIGHT
    rows = max(1, -(-len(wrong) // columns))
    sheet = Image.new("L", (columns * tile_w, rows * tile_h), color=255)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for slot, index in enumerate(wrong):
        x, y = (slot % columns) * tile_w, (slot // columns) * tile_h
        digit = Image.fromarray(images[index].cpu().numpy()).resize((28 * SCALE, 28 * SCALE), Image.NEAREST)
        sheet.paste(digit, (x, y))
        label = f"t{int(actual[index])} p{int(predicted[index])}"
        draw.text((x + 4, y + 28 * SCALE + 1), label, fill=0, font=font)
    if not wrong:
        draw.text((4, 4), "no misclassified digits", fill=0, font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
