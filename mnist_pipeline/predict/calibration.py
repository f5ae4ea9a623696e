"""The temperature evaluate fitted for a model: its logits divided by it give probabilities that
mean what they say (label smoothing leaves model_3 and model_4 underconfident)."""

import json
import math
from pathlib import Path

from mnist_pipeline.core import paths
from mnist_pipeline.core.errors import PipelineError

CALIBRATION_FILE = "calibration.json"  # in metrics/<model>/, written by evaluate


def calibration_path(model: str) -> Path:
    return paths.METRICS_DIR / model / CALIBRATION_FILE


def read_temperature(path: Path) -> float | None:
    """The temperature in path, or None when there is no such file (evaluate has not run since it
    began writing one); anything else there is one line naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        temperature = json.loads(text).get("temperature")
    except (ValueError, AttributeError):
        temperature = None
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
        math.isfinite(temperature) and temperature > 0
    ):
        raise PipelineError(f'{path}: not a calibration (expected {{"temperature": <a number > 0>, ...}}); '
                            "make it again with `dvc repro`, or delete it to read uncalibrated probabilities")
    return float(temperature)
