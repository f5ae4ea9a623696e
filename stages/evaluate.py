"""Stage evaluate@<model>: fit the model's temperature on the validation split, score the best
checkpoint on the test set before and after it; write the model's report row."""

import argparse
from functools import partial

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.files import atomic_write_bytes, write_csv, write_json
from mnist_pipeline.core.params import evaluate_params, load_params
from mnist_pipeline.core.program import program
from mnist_pipeline.data.splits import load_split, normalize
from mnist_pipeline.evaluation.calibration import calibration_file, calibration_report, logits_of
from mnist_pipeline.evaluation.gallery import misclassified_png
from mnist_pipeline.evaluation.per_class import confusion_matrix, confusion_rows, per_class_metrics
from mnist_pipeline.evaluation.report import read_row, summary_row
from mnist_pipeline.evaluation.scoring import score
from mnist_pipeline.training.architectures import model_class
from mnist_pipeline.training.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_pipeline.training.device import select_device
from torch import nn  # noqa: E402 after mnist_pipeline, which sets OpenMP's wait policy before torch loads


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__)
    parser.add_argument("model", help="a model name from params.yaml's `models` section")
    name = parser.parse_args(argv).model
    model_class(name)  # an unknown name is refused before it becomes part of a path

    params = evaluate_params(load_params())
    device = select_device(params.device)
    path = paths.checkpoint(name)
    checkpoint = load_checkpoint(path)
    model = model_from_checkpoint(checkpoint, path, device)
    val, test = load_split(paths.prepared_split("val")), load_split(paths.prepared_split("test"))
    val_logits = logits_of(model, normalize(val.images.to(device), **checkpoint["normalization"]))
    test_logits = logits_of(model, normalize(test.images.to(device), **checkpoint["normalization"]))
    # The logits were computed in score's batches: this is score(model, x, y) without a second pass.
    loss, accuracy, predicted = score(nn.Identity(), test_logits, test.labels.to(device))
    calibration = calibration_report(val_logits, val.labels, test_logits, test.labels)

    confusion = confusion_matrix(test.labels, predicted)
    per_class = per_class_metrics(confusion)
    metrics = {
        "test_accuracy": round(accuracy, 6),
        "test_loss": round(loss, 6),
        "macro_f1": round(sum(row["f1"] for row in per_class) / len(per_class), 6),
    }
    out = partial(paths.model_metrics, name)
    row = summary_row(name, read_row(out("train.json")), metrics | {"test_ece": calibration["ece_after"]})
    write_json(metrics, out("eval.json"))
    write_csv(per_class, out("per_class.csv"))
    write_csv(confusion_rows(confusion), out("confusion_matrix.csv"))
    pairs = zip(test.labels.tolist(), predicted.cpu().tolist())
    write_csv([{"actual": a, "predicted": p} for a, p in pairs], out("predictions.csv"))
    atomic_write_bytes(out("misclassified.png"), misclassified_png(test.images, test.labels, predicted))
    write_json(calibration, calibration_file(name))
    write_json(row, paths.summary(name))
    print(f"{name}: test accuracy {accuracy:.2%}, test loss {loss:.4f} ({len(test)} images); temperature "
          f"{calibration['temperature']:.3f} (fitted on {len(val)} validation images): test ECE "
          f"{calibration['ece_before']:.2%} -> {calibration['ece_after']:.2%}")


if __name__ == "__main__":
    run_command(main)
