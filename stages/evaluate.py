"""Stage evaluate@<model>: score the best checkpoint on the test set."""

import argparse

import pandas as pd

from mnist_pipeline.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_pipeline.cli import run_stage
from mnist_pipeline.device import select_device
from mnist_pipeline.evaluation import confusion_matrix, per_class_metrics, score
from mnist_pipeline.gallery import misclassified_png
from mnist_pipeline.io import atomic_write_bytes, write_csv, write_json
from mnist_pipeline.params import evaluate_params, load_params
from mnist_pipeline.paths import checkpoint_dir, metrics_dir, prepared_split
from mnist_pipeline.prepare import load_split, normalize


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="a model name from params.yaml's `models` section")
    name = parser.parse_args(argv).model

    params = evaluate_params(load_params())
    device = select_device(params.device)
    path = checkpoint_dir(name) / "best.pt"
    checkpoint = load_checkpoint(path)
    model = model_from_checkpoint(checkpoint, path, device)
    test = load_split(prepared_split("test"))
    x = normalize(test.images.to(device), **checkpoint["normalization"])
    loss, accuracy, predicted = score(model, x, test.labels.to(device), params.batch_size)

    confusion = confusion_matrix(test.labels, predicted)
    per_class = per_class_metrics(confusion)
    out = metrics_dir(name)
    write_json(
        {
            "test_accuracy": round(accuracy, 6),
            "test_loss": round(loss, 6),
            "macro_f1": round(float(per_class["f1"].mean()), 6),
        },
        out / "eval.json",
    )
    write_csv(per_class, out / "per_class.csv")
    write_csv(confusion.reset_index(), out / "confusion_matrix.csv")
    write_csv(
        pd.DataFrame({"actual": test.labels.numpy(), "predicted": predicted.cpu().numpy()}),
        out / "predictions.csv",
    )
    atomic_write_bytes(out / "misclassified.png", misclassified_png(test.images, test.labels, predicted))
    print(f"{name}: test accuracy {accuracy:.2%}, test loss {loss:.4f} ({len(test)} images)")


if __name__ == "__main__":
    run_stage(main)
