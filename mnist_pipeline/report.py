"""One table comparing every model, built from the metrics files the stages wrote."""

import json
from pathlib import Path

import pandas as pd

from mnist_pipeline.errors import PipelineError
from mnist_pipeline.paths import metrics_dir

COLUMNS = {
    "model": "model",
    "parameters": "parameters",
    "test_accuracy": "test accuracy",
    "test_loss": "test loss",
    "best_epoch": "best epoch",
    "epochs_run": "epochs",
    "train_seconds": "train seconds",
    "device": "device",
}


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{path}: cannot read metrics ({exc})") from None


def build_report(models: list[str]) -> pd.DataFrame:
    rows = []
    for name in models:
        folder = metrics_dir(name)
        metrics = {**_read(folder / "train.json"), **_read(folder / "timing.json"), **_read(folder / "eval.json")}
        rows.append({"model": name, **{key: metrics.get(key) for key in list(COLUMNS)[1:]}})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def to_markdown(report: pd.DataFrame) -> str:
    """A GitHub markdown table (pandas' own needs the tabulate package)."""

    def cell(key, value):
        if key == "test_accuracy":
            return f"{value:.2%}"
        if key == "test_loss":
            return f"{value:.4f}"
        if key == "parameters":
            return f"{value:,}"
        if key == "model":
            return f"`{value}`"
        return str(value)

    lines = ["| " + " | ".join(COLUMNS.values()) + " |", "| --- |" + " ---: |" * (len(COLUMNS) - 1)]
    for row in report.to_dict("records"):
        lines.append("| " + " | ".join(cell(key, row[key]) for key in COLUMNS) + " |")
    return "\n".join(lines) + "\n"
