"""Temperature scaling and the expected calibration error, on logits whose calibration is known,
and the evaluate stage that fits a model's temperature on validation and writes calibration.json."""

import json
import math
import shutil

import pytest
import torch

from mnist_pipeline.evaluation.calibration import (
    ECE_BINS,
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    logits_of,
    mean_confidence,
)
from tests.project import ROOT, build


def _confident_logits(top: float, n: int) -> torch.Tensor:
    """n rows of 10 logits whose softmax gives class 0 exactly probability `top`."""
    row = torch.full((10,), math.log((1 - top) / 9), dtype=torch.float64)
    row[0] = math.log(top)
    return row.repeat(n, 1)


def _labels(n: int, right: int) -> torch.Tensor:
    """Class 0 (what _confident_logits predicts) for the first `right` images, class 1 after."""
    return torch.tensor([0] * right + [1] * (n - right))


def test_ece_is_the_gap_between_accuracy_and_confidence_bin_by_bin():
    # 80% sure and right 80% of the time: calibrated.
    assert expected_calibration_error(_confident_logits(0.8, 1000), _labels(1000, 800)) == pytest.approx(0, abs=1e-12)
    # 80% sure, right 90% of the time: underconfident by 10 points.
    assert expected_calibration_error(_confident_logits(0.8, 1000), _labels(1000, 900)) == pytest.approx(0.1)
    # Half the images 95% sure and always right (+5 points), half 55% sure and right 45% of the time
    # (-10): in different bins, the gaps add up by weight instead of cancelling.
    logits = torch.cat([_confident_logits(0.95, 200), _confident_logits(0.55, 200)])
    labels = torch.cat([_labels(200, 200), _labels(200, 90)])
    assert expected_calibration_error(logits, labels) == pytest.approx(0.5 * 0.05 + 0.5 * 0.10)
    # ... and inside one bin they do cancel: 0.95 and 0.94 share the bin (14/15, 1].
    logits = torch.cat([_confident_logits(0.95, 100), _confident_logits(0.94, 100)])
    labels = torch.cat([_labels(100, 90), _labels(100, 98)])  # -5 and +4 points
    assert expected_calibration_error(logits, labels) == pytest.approx(abs(0.5 * -0.05 + 0.5 * 0.04))


def _sampled(n: int, true_temperature: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits z * true_temperature with labels drawn from softmax(z): the labels follow the logits
    only after dividing them by true_temperature (> 1: overconfident, < 1: underconfident)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 10, generator=generator, dtype=torch.float64) * 3
    labels = torch.multinomial(torch.softmax(z, dim=1), 1, generator=generator).flatten()
    return z * true_temperature, labels


@pytest.mark.parametrize("true_temperature", [3.0, 0.4])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with(true_temperature):
    logits, labels = _sampled(20_000, true_temperature, seed=1)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    assert fit_temperature(logits, labels) == fitted  # deterministic to the bit
    # Fitted on one sample, it calibrates another from the same source.
    test_logits, test_labels = _sampled(20_000, true_temperature, seed=2)
    before = expected_calibration_error(test_logits, test_labels)
    after = expected_calibration_error(test_logits, test_labels, fitted)
    # 20,000 images in 15 bins leave the true temperature itself 0.9% of sampling noise.
    assert before > 0.2 and after < 0.015
    assert after < expected_calibration_error(test_logits, test_labels, true_temperature) + 0.005
    if true_temperature < 1:  # underconfident, as label smoothing leaves model_3 and model_4
        accuracy = (test_logits.argmax(1) == test_labels).double().mean().item()
        assert mean_confidence(test_logits) < accuracy - 0.05
        assert mean_confidence(test_logits, fitted) == pytest.approx(accuracy, abs=0.01)


def test_the_temperature_comes_from_validation_and_changes_no_prediction():
    val_logits, val_labels = _sampled(10_000, 2.0, seed=3)
    test_logits, test_labels = _sampled(10_000, 0.5, seed=4)  # calibrated by T = 0.5, not 2
    report = calibration_report(val_logits.float(), val_labels, test_logits.float(), test_labels)
    assert report["temperature"] == pytest.approx(2.0, rel=0.05)
    assert report["ece_bins"] == ECE_BINS == 15 and report["fitted_on_val_images"] == 10_000
    assert report["ece_after"] > report["ece_before"]  # the wrong T for this test set makes it worse
    assert torch.equal((test_logits / report["temperature"]).argmax(1), test_logits.argmax(1))


@pytest.fixture
def evaluated(tmp_path, raw_files, monkeypatch):
    """A project with model_1 after three steps of training on the synthetic images (about half of
    them right, and far less sure of itself than that), evaluated in-process."""
    from mnist_pipeline.core import paths
    from mnist_pipeline.core.files import write_json
    from mnist_pipeline.data.splits import normalize, prepare, save_split
    from mnist_pipeline.training.checkpoint import save_checkpoint
    from stages import evaluate
    from tests.synthetic import write_raw

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    splits = prepare(write_raw(tmp_path / "raw", raw_files), val_size=300, seed=0)
    for name in ("val", "test"):
        save_split(splits[name], paths.prepared_split(name))
    torch.manual_seed(0)
    model = build("model_1")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(normalize(splits["train"].images)), splits["train"].labels).backward()
        optimizer.step()
    save_checkpoint(paths.checkpoint("model_1"), model.state_dict(), "model_1", {}, epoch=1, val_accuracy=0.1)
    write_json({"parameters": 26_698, "best_val_accuracy": 0.1, "best_epoch": 1, "epochs_run": 1, "device": "cpu"},
               paths.model_metrics("model_1", "train.json"))
    evaluate.main(["model_1"])
    return tmp_path, model, splits


def test_evaluate_writes_the_temperature_fitted_on_validation(evaluated):
    from mnist_pipeline.data.splits import normalize

    root, model, splits = evaluated
    calibration = json.loads((root / "metrics/model_1/calibration.json").read_text())
    val_logits = logits_of(model, normalize(splits["val"].images))
    test_logits = logits_of(model, normalize(splits["test"].images))
    assert calibration["temperature"] == round(fit_temperature(val_logits, splits["val"].labels), 6)
    assert calibration["temperature"] != round(fit_temperature(test_logits, splits["test"].labels), 6)
    assert calibration["temperature"] < 1  # the underconfident model is sharpened
    assert 0 <= calibration["ece_after"] < calibration["ece_before"] <= 1  # fractions of 1
    assert calibration["mean_confidence_after"] > calibration["mean_confidence_before"]
    summary = json.loads((root / "metrics/summary/model_1.json").read_text())
    assert summary["test_ece"] == calibration["ece_after"]
    # The test metrics are still score()'s, from the same logits.
    from mnist_pipeline.evaluation.scoring import score

    loss, accuracy, _ = score(model, normalize(splits["test"].images), splits["test"].labels)
    assert json.loads((root / "metrics/model_1/eval.json").read_text())["test_loss"] == round(loss, 6)
    assert summary["test_accuracy"] == round(accuracy, 6)
