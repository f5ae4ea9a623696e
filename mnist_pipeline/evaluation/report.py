"""One table comparing every model, from the one-row summaries that each evaluation writes, with
the cross-validation result where one exists for the model's current params.

Wall time is left out on purpose: the report is a hashed output, and reruns must give the same
bytes. `dvc metrics show` lists the timing files beside it.
"""

import json
from pathlib import Path

import pandas as pd

from mnist_pipeline.core.errors import PipelineError

COLUMNS = {
    "model": "model",
    "parameters": "parameters",
    "test_accuracy": "test accuracy",
    "test_loss": "test loss",
    "best_epoch": "best epoch",
    "epochs_run": "epochs",
    "device": "device",
}


def summary_row(model: str, train: dict, evaluation: dict) -> dict:
    """A model's row of the report, from its train.json and eval.json metrics."""
    merged = {"model": model, **train, **evaluation}
    return {key: merged.get(key) for key in COLUMNS}


def read_row(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc
        raise PipelineError(f"{path}: cannot read the model's summary ({reason}); run `dvc repro` first") from None


# Validation accuracy over the cross-validation folds; empty where it has not run for today's params.
CV_COLUMNS = ("cv_accuracy_mean", "cv_accuracy_std")
CV_HEADER = "cv accuracy (mean ± std)"


def build_report(rows: list[dict], cv: list[dict | None]) -> pd.DataFrame:
    """rows: the models' summaries; cv: each model's current cross-validation interval, or None."""
    records = [
        {**{key: row.get(key) for key in COLUMNS},
         "cv_accuracy_mean": result["mean"] if result else None, "cv_accuracy_std": result["std"] if result else None}
        for row, result in zip(rows, cv)
    ]
    return pd.DataFrame(records, columns=[*COLUMNS, *CV_COLUMNS])


def to_markdown(report: pd.DataFrame) -> str:
    """A GitHub markdown table (pandas' own needs the tabulate package)."""
    formats = {"test_accuracy": "{:.2%}", "test_loss": "{:.4f}", "parameters": "{:,}", "model": "`{}`"}
    headers = [*COLUMNS.values(), CV_HEADER]
    lines = ["| " + " | ".join(headers) + " |", "| --- |" + " ---: |" * (len(headers) - 1)]
    for row in report.to_dict("records"):
        cells = [formats.get(key, "{}").format(row[key]) for key in COLUMNS]
        mean, std = (row[key] for key in CV_COLUMNS)
        cells.append("not run" if pd.isna(mean) else f"{mean * 100:.2f} ± {std * 100:.2f}%")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_crossval(path: Path) -> dict:
    """The cross-validation summary; empty (nothing run) where the file does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc
        raise PipelineError(f"{path}: cannot read the cross-validation results ({reason})") from None
