"""One table comparing every model, from the one-row summaries that each evaluation writes.

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


def build_report(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{key: row.get(key) for key in COLUMNS} for row in rows], columns=list(COLUMNS))


def to_markdown(report: pd.DataFrame) -> str:
    """A GitHub markdown table (pandas' own needs the tabulate package)."""
    formats = {"test_accuracy": "{:.2%}", "test_loss": "{:.4f}", "parameters": "{:,}", "model": "`{}`"}
    lines = ["| " + " | ".join(COLUMNS.values()) + " |", "| --- |" + " ---: |" * (len(COLUMNS) - 1)]
    for row in report.to_dict("records"):
        lines.append("| " + " | ".join(formats.get(key, "{}").format(row[key]) for key in COLUMNS) + " |")
    return "\n".join(lines) + "\n"
