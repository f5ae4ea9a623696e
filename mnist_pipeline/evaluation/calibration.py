"""Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017): one
temperature T per model, fitted on the validation split, so that softmax(logits / T) means what it
says; and the expected calibration error (ECE) that shows whether it does.

Label smoothing makes model_3 and model_4 underconfident (a clear digit at 91%), plain
cross-entropy tends the other way; dividing the logits by one number fixes either without changing a
single prediction (argmax is unchanged for T > 0). Every figure here is a fraction of 1, not a
percentage, as the project's accuracies are.
"""

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_pipeline.core import paths
from mnist_pipeline.evaluation.scoring import INFERENCE_BATCH_SIZE

# Equal-width confidence bins of the ECE: Guo et al.'s choice, and the usual one since.
ECE_BINS = 15
# The search interval of T. The lower end is reached only when validation has no errors (then
# sharper is always better); the upper one only for a model no better than chance.
TEMPERATURE_RANGE = (0.01, 100.0)
_GOLDEN_STEPS = 80  # shrinks log T's interval (9.2 wide) below 1e-15: the float64 optimum, every run the same


def calibration_file(model: str) -> Path:
    """metrics/<model>/calibration.json, written by evaluate, read by predict for its temperature."""
    return paths.METRICS_DIR / model / "calibration.json"


@torch.inference_mode()
def logits_of(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH_SIZE) -> torch.Tensor:
    """The model's logits for x, in the same batches as scoring.score (so the same values)."""
    was_training = model.training
    model.eval()
    outputs = [model(x[start : start + batch_size]) for start in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(outputs) if outputs else x.new_empty(0, 0)


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of labels under softmax(logits / temperature), in float64."""
    return F.cross_entropy(logits.double().cpu() / temperature, labels.cpu()).item()


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T in TEMPERATURE_RANGE that minimises the NLL of softmax(logits / T): validation logits only.

    The NLL is convex in 1/T, so it has one minimum along log T, which a golden-section search finds
    with no gradient, no step size and the same answer on every machine.
    """
    z = logits.double().cpu().numpy()
    top = z.max(axis=1, keepdims=True)
    below_top = z - top  # <= 0, so exp(below_top / T) cannot overflow
    label_gap = (top[:, 0] - z[np.arange(len(z)), labels.cpu().numpy()]).mean()

    def nll_at(log_t: float) -> float:
        # NumPy, single-threaded: on 50,000 numbers torch's thread pool costs more than the
        # arithmetic, seconds over the search on two busy cores.
        t = math.exp(log_t)
        return float(np.log(np.exp(below_top / t).sum(axis=1)).mean() + label_gap / t)

    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll_at(a), nll_at(b)
    for _ in range(_GOLDEN_STEPS):
        if fa <= fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll_at(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll_at(b)
    return math.exp((low + high) / 2)


def expected_calibration_error(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                               bins: int = ECE_BINS) -> float:
    """ECE of softmax(logits / temperature): the images grouped by top probability into `bins`
    equal-width bins (k/bins, (k+1)/bins], then the mean over images of |accuracy - mean top
    probability| of each image's bin. 0 is perfectly calibrated; a fraction of 1."""
    probabilities = torch.softmax(logits.double().cpu() / temperature, dim=1)
    confidence, predicted = probabilities.max(dim=1)
    gap = (predicted == labels.cpu()).double() - confidence  # per image: right (1) or wrong (0), minus its confidence
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)[1:-1]
    per_bin = torch.zeros(bins, dtype=torch.float64).index_add_(0, torch.bucketize(confidence, edges), gap)
    return per_bin.abs().sum().item() / max(len(labels), 1)


def mean_confidence(logits: torch.Tensor, temperature: float = 1.0) -> float:
    """The mean top probability: what predict prints, beside the accuracy it should match."""
    return torch.softmax(logits.double().cpu() / temperature, dim=1).max(dim=1).values.mean().item()


def calibration_report(val_logits: torch.Tensor, val_labels: torch.Tensor, test_logits: torch.Tensor,
                       test_labels: torch.Tensor) -> dict:
    """calibration.json: T fitted on validation (and rounded, so that predict uses exactly the T
    that was scored), then the test set's ECE, mean top probability and NLL before and after it."""
    temperature = round(fit_temperature(val_logits, val_labels), 6)
    before_after = {
        "ece": lambda t: expected_calibration_error(test_logits, test_labels, t),
        "mean_confidence": lambda t: mean_confidence(test_logits, t),
        "test_loss": lambda t: nll(test_logits, test_labels, t),
    }
    report = {"temperature": temperature}
    for name, measure in before_after.items():
        report |= {f"{name}_before": round(measure(1.0), 6), f"{name}_after": round(measure(temperature), 6)}
    return report | {"ece_bins": ECE_BINS, "fitted_on_val_images": len(val_labels)}
