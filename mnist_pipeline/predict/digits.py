"""An ink map that may hold several digits side by side -> one ink map per digit, left to right.

Pieces of ink are found as connected regions on a small copy; pieces that share most of their
columns belong to one digit (a 5's bar, a stroke broken by a light pen), specks are dropped, and a
piece much wider than it is high is two or more digits touching, which is refused.
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mnist_pipeline.core.errors import PipelineError

WORK_SIZE = 160  # pieces are found on a copy this many pixels on its long side
PIECE_INK = 0.25  # of the strongest ink on the small copy: what belongs to a piece
SPECK = 0.03  # a piece with less than this share of the largest piece's ink is a speck
SAME_DIGIT = 0.5  # pieces sharing this much of the narrower one's columns are one digit
MINOR = 0.5  # a piece under this share of the tallest digit's height is part of a digit, not one
ONE_DIGIT = 1.25  # overlapping neighbours no wider together than this many times their height are one digit
TOO_WIDE = 1.6  # a digit wider than this many times its height is digits touching


@dataclass
class Piece:
    top: int
    bottom: int  # exclusive
    left: int
    right: int  # exclusive
    mass: float
    runs: list  # (row, start, end) on the small copy

    def merge(self, other: "Piece") -> "Piece":
        return Piece(min(self.top, other.top), max(self.bottom, other.bottom), min(self.left, other.left),
                     max(self.right, other.right), self.mass + other.mass, self.runs + other.runs)

    def shares_columns(self, other: "Piece") -> bool:
        overlap = min(self.right, other.right) - max(self.left, other.left)
        return overlap >= SAME_DIGIT * min(self.right - self.left, other.right - other.left)


def split_digits(ink: np.ndarray, name: str = "picture") -> list[np.ndarray]:
    """The ink of each digit, left to right, each on the whole picture's canvas (others' ink removed)."""
    height, width = ink.shape
    scale = min(1.0, WORK_SIZE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(ink).resize(small_size, Image.Resampling.BOX), np.float32)
    pieces = connected_pieces(small > PIECE_INK * small.max(), small)
    largest = max(piece.mass for piece in pieces)
    digits = _group([p for p in pieces if p.mass >= SPECK * largest])
    for digit in digits:
        if digit.right - digit.left > TOO_WIDE * (digit.bottom - digit.top):
            where = f"{round(digit.left / scale)}..{round(digit.right / scale)}"
            raise PipelineError(
                f"{name}: the writing at x={where} looks like digits that touch; leave a gap between them "
                "or crop each digit"
            )
    if len(digits) == 1:
        return [ink]
    return [ink * _full_size_mask(digit, small.shape, (height, width)) for digit in digits]


def connected_pieces(mask: np.ndarray, weights: np.ndarray) -> list[Piece]:
    """8-connected regions of mask, found on runs of each row (fast in Python: few runs per row)."""
    runs = []  # (row, start, end)
    for row in range(mask.shape[0]):
        padded = np.concatenate([[0], mask[row].astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(padded))
        runs += [(row, int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]
    parent = list(range(len(runs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    current: list[int] = []
    row_of = None
    for index, (row, start, end) in enumerate(runs):
        if row != row_of:
            previous, current = (current if row_of == row - 1 else []), []
            row_of = row
        for other in previous:
            _, other_start, other_end = runs[other]
            if start <= other_end and other_start <= end:  # touching, diagonals included
                parent[root(other)] = root(index)
        current.append(index)
    pieces: dict[int, Piece] = {}
    for index, (row, start, end) in enumerate(runs):
        piece = Piece(row, row + 1, start, end, float(weights[row, start:end].sum()), [(row, start, end)])
        key = root(index)
        pieces[key] = pieces[key].merge(piece) if key in pieces else piece
    return list(pieces.values())


def _group(pieces: list[Piece]) -> list[Piece]:
    """Pieces merged into digits, left to right: those sharing most of the narrower one's columns;
    then each piece under half the tallest's height into the digit nearest to it (a bar, a tail);
    then neighbours that overlap at all, where together they are no wider than a digit."""
    digits = _merge_while(pieces, lambda a, b: a.shares_columns(b))
    tallest = max(d.bottom - d.top for d in digits)
    minor = [d for d in digits if d.bottom - d.top < MINOR * tallest]
    digits = [d for d in digits if d.bottom - d.top >= MINOR * tallest]
    for piece in minor:
        nearest = min(range(len(digits)), key=lambda i: _gap(digits[i], piece))
        digits[nearest] = digits[nearest].merge(piece)
    digits = _merge_while(digits, lambda a, b: min(a.right, b.right) > max(a.left, b.left)
                          and (merged := a.merge(b)).right - merged.left <= ONE_DIGIT * (merged.bottom - merged.top))
    return sorted(digits, key=lambda d: d.left)


def _merge_while(pieces: list[Piece], same) -> list[Piece]:
    """Merge any two pieces for which same(a, b) holds, until none do."""
    groups = list(pieces)
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if same(groups[i], groups[j]):
                    groups[i] = groups[i].merge(groups.pop(j))
                    merged = True
                    break
            if merged:
                break
    return groups


def _gap(a: Piece, b: Piece) -> int:
    """Horizontal distance between two pieces, negative where they overlap."""
    return max(a.left, b.left) - min(a.right, b.right)


def _full_size_mask(digit: Piece, small_shape: tuple[int, int], full_shape: tuple[int, int]) -> np.ndarray:
    """The digit's pixels on the full picture: its runs, grown by one small pixel for stroke edges."""
    small = np.zeros(small_shape, np.uint8)
    for row, start, end in digit.runs:
        small[max(row - 1, 0) : row + 2, max(start - 1, 0) : end + 1] = 255
    full = Image.fromarray(small).resize(full_shape[::-1], Image.Resampling.NEAREST)
    return np.asarray(full, np.float32) / 255
