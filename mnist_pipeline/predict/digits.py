"""An ink map that may hold several digits side by side -> one ink map per digit, left to right.

Pieces of ink are found as connected regions on a small copy. Pieces that share most of their
columns belong to one digit (a 5's bar, a stroke broken by a light pen), a piece under half the
tallest one's height joins the digit nearest it, specks are dropped. What the picture shows then
decides (`Writing.apart`): digits of similar height side by side with paper between them, in a
row wider than any one digit, are a number, whatever a model makes of them squeezed into one
frame. Where the picture leaves a choice, both readings are offered (`Digit.alternative`) and
the model's confidence breaks the tie (reader.py): neighbours that overlap a little (one digit
broken, or two written close), and writing wider than most digits, which is cut at its thinnest
column (digits that touch). Writing too wide for one digit that no thin column cuts is refused.
"""

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from mnist_pipeline.core.errors import PipelineError

WORK_PIXELS = 160 * 160  # pieces are found on a copy of about this many pixels (160 x 160 for a square picture)
PIECE_INK = 0.25  # of the strongest ink on the small copy: what belongs to a piece
SPECK = 0.03  # a piece with less than this share of the largest piece's ink is a speck
SAME_DIGIT = 0.5  # pieces sharing this much of the narrower one's columns are one digit
MINOR = 0.5  # a piece under this share of the tallest digit's height is part of a digit, not one
ONE_DIGIT = 1.25  # overlapping neighbours no wider together than this many times their height may be one digit
SIMILAR = 0.7  # digits of similar height: each at least this share of the tallest one's
EVEN = 0.8  # and of even height: this share (a 4's bar and stem, apart, are about 0.7 of its upright)
# MNIST's digits: 90% are at most 1.05 times as wide as tall, 99% at most 1.43; numbers are wider.
WIDE = 1.1  # writing wider than this many times its height may be digits that touch: a cut is offered
TOO_WIDE = 1.6  # and wider than this it is not one digit: it is cut, or refused
ROW = 1.5  # digits side by side are a number when their row is at least this many times as wide as tall,
GAP = 0.12  # or, for digits of similar height, when paper at least this share of it separates each two
CUT_MARGIN = 0.15  # of the height: a cut leaves at least this much on each side (a 1 is that narrow)
THIN = 0.35  # of the height: a column with at most this much ink is thin enough to be a join


@dataclass
class Piece:
    top: int
    bottom: int  # exclusive
    left: int
    right: int  # exclusive
    mass: float
    runs: list  # (row, start, end) on the small copy
    members: list = field(default_factory=list)  # the tall pieces it was merged from, left to right

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def merge(self, other: "Piece") -> "Piece":
        return Piece(min(self.top, other.top), max(self.bottom, other.bottom), min(self.left, other.left),
                     max(self.right, other.right), self.mass + other.mass, self.runs + other.runs,
                     sorted(self.members + other.members, key=lambda p: p.left))

    def shares_columns(self, other: "Piece") -> bool:
        overlap = min(self.right, other.right) - max(self.left, other.left)
        return overlap >= SAME_DIGIT * min(self.width, other.width)


@dataclass
class Digit:
    ink: np.ndarray  # this digit's ink, on the whole picture's canvas
    alternative: list[np.ndarray] = field(default_factory=list)  # the same ink read as several digits, if it may be
    touching: str = ""  # for writing wider than nearly any digit: why, if neither reading convinces, it is refused


@dataclass
class Writing:
    digits: list[Digit]  # left to right
    apart: bool = False  # digits side by side, paper between them, in a wide row or well apart: a number
    similar: bool = False  # the digits are of similar height, as a number's are (a broken digit's pieces often not)
    even: bool = False  # and of even height, as a broken digit's side-by-side pieces seldom are


def split_digits(ink: np.ndarray, name: str = "picture") -> Writing:
    """The digits the ink may hold, each on the whole picture's canvas (others' ink removed)."""
    height, width = ink.shape
    scale = min(1.0, (WORK_PIXELS / (height * width)) ** 0.5)
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(ink).resize(small_size, Image.Resampling.BOX), np.float32)
    pieces = connected_pieces(small > PIECE_INK * small.max(), small)
    largest = max(piece.mass for piece in pieces)
    groups = _group([p for p in pieces if p.mass >= SPECK * largest])
    alternatives = [_alternative(group) for group in groups]
    if len(groups) == 1 and not alternatives[0] and groups[0].width <= TOO_WIDE * groups[0].height:
        return Writing([Digit(ink)])
    touching = []
    for group, alternative in zip(groups, alternatives):
        where = f"{round(group.left / scale)}..{round(group.right / scale)}"
        touching.append(f"{name}: the writing at x={where} looks like digits that touch; leave a gap between them or "
                        "crop each digit" if group.width > TOO_WIDE * group.height else "")
        if touching[-1] and not alternative:
            raise PipelineError(touching[-1])
    masks = iter(_full_size_masks(groups + [p for a in alternatives for p in a], small.shape, (height, width)))
    digits = [Digit(ink * next(masks), [], why) for why in touching]
    for digit, alternative in zip(digits, alternatives):
        digit.alternative = [ink * next(masks) for _ in alternative]
    return Writing(digits, apart=_apart(groups), similar=_similar(groups), even=_similar(groups, EVEN))


def _apart(groups: list[Piece]) -> bool:
    """Whether the digits are a number by their look: several, side by side with paper between
    them (no two sharing a column), and either together wider than nearly any one digit, or of
    similar height with more paper between each two than a pen's skip or a loose bar leaves
    within one digit."""
    tallest = max(g.height for g in groups)
    gaps = [b.left - a.right for a, b in zip(groups, groups[1:])]
    if len(groups) < 2 or min(gaps) < 0:
        return False
    return groups[-1].right - groups[0].left >= ROW * tallest or (_similar(groups) and min(gaps) >= GAP * tallest)


def _similar(groups: list[Piece], share: float = SIMILAR) -> bool:
    tallest = max(g.height for g in groups)
    return all(g.height >= share * tallest for g in groups)


def _alternative(group: Piece) -> list[Piece]:
    """The group read as several digits, where it may be: the tall pieces it was merged from; else,
    when it is wider than most digits, it cut at its thinnest columns. Empty where neither applies."""
    if len(group.members) > 1:
        return group.members
    if group.width <= WIDE * group.height:
        return []
    parts, done = [group], []
    while parts:
        part = parts.pop()
        cut = _thinnest_column(part, group.height) if part.width > WIDE * group.height else None
        if cut is None:
            done.append(part)
        else:
            parts += _split_at(part, cut)
    if len(done) == 1 or any(p.width > TOO_WIDE * group.height for p in done):
        return []
    return sorted(done, key=lambda p: p.left)


def _thinnest_column(part: Piece, height: int) -> int | None:
    """The column at which part is thinnest, at least CUT_MARGIN of the writing's height from either
    side, if it is thin enough to be where two digits touch."""
    profile = np.zeros(part.right - part.left)
    for row, start, end in part.runs:
        profile[start - part.left : end - part.left] += 1
    margin = max(1, round(CUT_MARGIN * height))
    if part.width <= 2 * margin:
        return None
    inside = profile[margin : part.width - margin]
    middle = (len(inside) - 1) / 2
    best = min(range(len(inside)), key=lambda i: (inside[i], abs(i - middle)))
    return part.left + margin + best if inside[best] <= THIN * height else None


def _split_at(part: Piece, column: int) -> list[Piece]:
    """part cut into what lies left of column and what lies from it on."""
    left = [(r, s, min(e, column)) for r, s, e in part.runs if s < column]
    right = [(r, max(s, column), e) for r, s, e in part.runs if e > column]
    return [_piece_of(left), _piece_of(right)]


def _piece_of(runs: list) -> Piece:
    rows, starts, ends = zip(*runs)
    return Piece(min(rows), max(rows) + 1, min(starts), max(ends), float(len(runs)), list(runs))


def connected_pieces(mask: np.ndarray, weights: np.ndarray) -> list[Piece]:
    """8-connected regions of mask, found on runs of each row (fast in Python: few runs per row)."""
    edges = np.diff(np.pad(mask.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # row by row, left to right: the n-th end closes the n-th start
    runs = list(zip(rows.tolist(), starts.tolist(), ends.tolist()))  # (row, start, end)
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
    summed = np.pad(np.cumsum(weights, axis=1, dtype=np.float64), ((0, 0), (1, 0)))
    masses = (summed[rows, ends] - summed[rows, starts]).tolist()
    grouped: dict[int, list[int]] = {}
    for index in range(len(runs)):
        grouped.setdefault(root(index), []).append(index)
    pieces = []
    for members in grouped.values():
        own = [runs[i] for i in members]
        pieces.append(Piece(min(r for r, _, _ in own), max(r for r, _, _ in own) + 1, min(s for _, s, _ in own),
                            max(e for _, _, e in own), float(sum(masses[i] for i in members)), own))
    return pieces


def _group(pieces: list[Piece]) -> list[Piece]:
    """Pieces merged into digits, left to right: those sharing most of the narrower one's columns;
    then each piece under half the tallest's height into the digit nearest to it (a bar, a tail);
    then neighbours that overlap at all, where together they are no wider than a digit (each
    remembered as a member: the merged digit may be two)."""
    digits = _merge_while(pieces, lambda a, b: a.shares_columns(b))
    tallest = max(d.height for d in digits)
    minor = [d for d in digits if d.height < MINOR * tallest]
    digits = [d for d in digits if d.height >= MINOR * tallest]
    for piece in minor:
        nearest = min(range(len(digits)), key=lambda i: _gap(digits[i], piece))
        digits[nearest] = digits[nearest].merge(piece)
    for digit in digits:
        digit.members = [Piece(digit.top, digit.bottom, digit.left, digit.right, digit.mass, digit.runs)]
    digits = _merge_while(digits, lambda a, b: min(a.right, b.right) > max(a.left, b.left)
                          and (merged := a.merge(b)).right - merged.left <= ONE_DIGIT * (merged.bottom - merged.top))
    for digit in digits:
        if len(digit.members) > 1 and min(m.height for m in digit.members) < SIMILAR * digit.height:
            digit.members = []  # a short piece beside a tall one: a broken digit, not two
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


def _full_size_masks(digits: list[Piece], small_shape: tuple[int, int], full_shape: tuple[int, int]) -> list[np.ndarray]:
    """Each digit's pixels on the full picture: its runs, grown by one small pixel for stroke edges,
    but never onto ink that belongs to another."""
    owner = np.zeros(small_shape, np.int32)
    for index, digit in enumerate(digits, start=1):
        for row, start, end in digit.runs:
            owner[row, start:end] = np.where(owner[row, start:end] == 0, index, owner[row, start:end])
    masks = []
    for index, digit in enumerate(digits, start=1):
        own = np.zeros(small_shape, bool)
        for row, start, end in digit.runs:
            own[row, start:end] = True
        grown = np.zeros(small_shape, bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                grown |= np.roll(np.roll(np.pad(own, 1), dy, 0), dx, 1)[1:-1, 1:-1]
        keep = grown & ((owner == 0) | own)
        full = Image.fromarray(keep.astype(np.uint8) * 255).resize(full_shape[::-1], Image.Resampling.NEAREST)
        masks.append(np.asarray(full, np.float32) / 255)
    return masks
