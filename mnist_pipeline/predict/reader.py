"""A loaded model that reads pictures: which of a picture's readings (framing.py) stands, and the
digits with their probabilities.

Digits that the picture shows apart (digits.py: side by side with paper between them, in a row
wider than one digit or well apart) are a number whatever the model makes of them squeezed into
one frame. Where the picture leaves the choice, the model's confidence breaks the tie: a part that
may be several digits (alternative_stands), a few pieces close together that may be one broken
digit (split_stands); writing too wide for one digit that reads convincingly neither way is
refused. The probabilities are the model's logits divided by its temperature (calibration.py), so
"confident" means what it says.
"""

import math
from pathlib import Path

import torch

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.data.splits import normalize
from mnist_pipeline.predict.framing import Readings
from mnist_pipeline.training.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_pipeline.training.device import select_device

CONFIDENT = 0.9  # a calibrated top probability at least this high is a confident digit
CERTAIN = 0.98  # and this high, a near-certain one


def checked_checkpoint(path: Path) -> dict:
    """The checkpoint at path, its plain data checked for the structure a model is built from."""
    checkpoint = load_checkpoint(path)
    hyperparameters, state, normalization = (checkpoint[k] for k in ("hyperparameters", "state_dict", "normalization"))
    problem = None
    if not isinstance(checkpoint["model"], str):
        problem = f"model is {checkpoint['model']!r}, not a model's name"
    elif not isinstance(hyperparameters, dict) or not all(isinstance(k, str) for k in hyperparameters):
        problem = f"hyperparameters is {_short(hyperparameters)}, not a mapping of names to values"
    elif not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        problem = f"state_dict is {_short(state)}, not a mapping of names to tensors"
    elif not all(isinstance(normalization.get(k), float) and math.isfinite(normalization[k]) for k in ("mean", "std")):
        problem = f"normalization is {_short(normalization)}, not a finite mean and std"
    elif any(v.is_floating_point() and not torch.isfinite(v).all() for v in state.values()):
        bad = next(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
        problem = f"weights hold NaN or infinite values ({bad}; a training that diverged?), so every answer would be meaningless"
    if problem:
        raise PipelineError(f"{path}: {problem}; use a checkpoint written by the train stage")
    return checkpoint


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def split_stands(parts: list[torch.Tensor], whole: torch.Tensor, similar: bool, even: bool = False) -> bool:
    """Where the picture leaves the choice (pieces close together: one broken digit, or digits
    written close), whether its parts are read rather than the whole: parts of similar height,
    every one confident, and the whole not near-certain, or, for parts of even height, read as one
    of them. A broken digit is read near-certainly as itself, and its pieces are often of unlike
    height (a 4's bar and its upright) or read as other digits (an open 0's halves as a 6 and a 7),
    while digits squeezed into one frame are rarely read near-certainly, unless as the one that
    fills most of the frame (a 1 close beside a 4, read as the 4: the 1 overlooked)."""
    whole_stands = float(whole.max()) >= CERTAIN and not (even and _read_as_one_of(whole, parts))
    return similar and _least(parts) >= CONFIDENT and not whole_stands


def alternative_stands(least_sure_part: float, whole: float, too_wide: bool) -> bool:
    """Whether a digit that may be several (digits.Digit.alternative) is read as several. Writing too
    wide for one digit: when every part is confident and more sure than the one digit. Else the
    picture does not ask for a cut: only when every part is near-certain and the one digit is not
    even confident. (A digit's own pieces are often read near-certainly as digits, one of them as
    itself: a 5's body as a 5.)"""
    if too_wide:
        return least_sure_part >= CONFIDENT and least_sure_part > whole
    return least_sure_part >= CERTAIN and whole < CONFIDENT


def _read_as_one_of(whole: torch.Tensor, parts: list[torch.Tensor]) -> bool:
    """Whether the whole is read as the digit one of its parts is, every part near-certain."""
    return _least(parts) >= CERTAIN and int(whole.argmax()) in {int(p.argmax()) for p in parts}


def _least(probabilities) -> float:
    """The least sure of several digits' readings: the top probability of the least certain."""
    return min(float(p.max()) for p in probabilities)


class Reader:
    """A model, its normalization and temperature: each picture's digits with their probabilities."""

    def __init__(self, model: torch.nn.Module, normalization: dict, device: torch.device, temperature: float = 1.0):
        self.model, self.normalization, self.device = model.eval(), normalization, device
        self.temperature = temperature

    @classmethod
    def load(cls, checkpoint_path: Path, device: str = "cpu", temperature: float = 1.0) -> "Reader":
        checkpoint = checked_checkpoint(checkpoint_path)
        chosen = select_device(device)
        model = model_from_checkpoint(checkpoint, checkpoint_path, chosen)
        return cls(model, checkpoint["normalization"], chosen, temperature)

    @torch.inference_mode()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Calibrated class probabilities [N, 10] for uint8 images [N, 28, 28]."""
        x = normalize(images.to(self.device), **self.normalization)
        logits = self.model(x)
        if not isinstance(logits, torch.Tensor) or logits.shape != (len(images), 10):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise PipelineError(f"the model returned {shape} for input {tuple(x.shape)}; a model must return "
                                "logits [N, 10]")
        return torch.softmax(logits.float() / self.temperature, dim=1).cpu()

    def digits(self, pictures: list[Readings]) -> list[list[tuple[torch.Tensor, torch.Tensor]] | str]:
        """For each picture, the digits it is read as, left to right: (the 28x28 image the model saw,
        its probabilities); or why it is refused (digits that touch, not read as one digit)."""
        batch = [image for found in pictures
                 for image in (found.whole, *found.parts, *(i for part in found.alternatives.values() for i in part))]
        probabilities = iter(self.probabilities(torch.stack(batch)) if batch else [])
        read = []
        for found in pictures:
            whole = next(probabilities)
            parts = [next(probabilities) for _ in found.parts]
            alternatives = {i: [next(probabilities) for _ in images] for i, images in found.alternatives.items()}
            if found.touching and float(whole.max()) < CONFIDENT:
                read.append(found.touching)
                continue
            number, refused = [], ""
            for i, (image, p) in enumerate(zip(found.parts, parts)):
                if i in alternatives and alternative_stands(_least(alternatives[i]), float(p.max()), i in found.too_wide):
                    number += zip(found.alternatives[i], alternatives[i])
                elif i in found.too_wide and float(p.max()) < CONFIDENT:
                    refused = found.too_wide[i]
                else:
                    number.append((image, p))
            if refused:
                read.append(refused)
                continue
            parts_read = [p for _, p in number]
            split = len(number) > 1 and (found.apart or split_stands(parts_read, whole, found.similar, found.even))
            read.append(number if split else [(found.whole, whole)])
        return read

    def answers(self, pictures: list[tuple[str, Readings]]) -> list[tuple[dict, list[torch.Tensor]]]:
        """One (answer, the images the model saw) per picture: the answer is its digit and probability,
        or for a number the whole number and each digit with its probability."""
        answers = []
        for (name, _), read in zip(pictures, self.digits([found for _, found in pictures])):
            if isinstance(read, str):
                answers.append(({"input": name, "error": read}, []))
                continue
            seen = [image for image, _ in read]
            each = [{"digit": int(p.argmax()), "probability": round(float(p.max()), 4)} for _, p in read]
            if len(each) == 1:
                answers.append(({"input": name, **each[0]}, seen))
            else:
                answers.append(({"input": name, "number": "".join(str(d["digit"]) for d in each), "digits": each}, seen))
        return answers
