"""A PNG grid of misclassified test digits, each tile labelled with its true and predicted class."""

import io

import numpy as np
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
        # Imported here, not at the top: torchvision costs 1.4 s to import (it loads torch._dynamo),
        # and only drawing a grid needs it.
        from torchvision.utils import make_grid

        tiles = [_tile(images[i], f"t{int(actual[i])} p{int(predicted[i])}", font) for i in wrong]
        grid = make_grid(torch.stack(tiles), nrow=columns, padding=PADDING, pad_value=255)
        sheet = Image.fromarray(grid[0].numpy())  # make_grid repeats a grey image into three channels
    else:
        sheet = Image.new("L", (columns * 28 * SCALE, 28 * SCALE + LABEL_HEIGHT), color=255)
        ImageDraw.Draw(sheet).text((4, 4), "no misclassified digits", fill=0, font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def _tile(image: torch.Tensor, label: str, font) -> torch.Tensor:
    """uint8 [1, H, W]: the digit enlarged SCALE times, its label on white below."""
    tile = Image.new("L", (28 * SCALE, 28 * SCALE + LABEL_HEIGHT), color=255)
    tile.paste(Image.fromarray(image.cpu().numpy()).resize((28 * SCALE, 28 * SCALE), Image.NEAREST), (0, 0))
    ImageDraw.Draw(tile).text((4, 28 * SCALE + 1), label, fill=0, font=font)
    return torch.from_numpy(np.array(tile))[None]
