"""One table comparing every model, from the one-row summaries that each evaluation writes, with
the cross-validation result where one exists for the model's current params.

Wall time is left out on purpose: the report is a hashed output, and reruns must give the same
bytes (metrics/timing/ holds it).
"""

from pathlib import Path
from typing import TYPE_CHECKING

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import read_json
from mnist_pipeline.core.machine import describe_cpu
from mnist_pipeline.core.wording import plural

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = {
    "model": "model",
    "parameters": "parameters",
    "test_accuracy": "test accuracy",
    "test_loss": "test loss",
    "test_ece": "test ECE, calibrated",  # after the model's temperature: metrics/<model>/calibration.json
    "best_val_accuracy": "best validation accuracy",
    "best_epoch": "best epoch",
    "epochs_run": "epochs",
    "device": "device",
}


def summary_row(model: str, train: dict, evaluation: dict) -> dict:
    """A model's row of the report, from its train.json and eval.json metrics, and the machine that
    trained it (not a column: the report names it under the table)."""
    merged = {"model": model, **train, **evaluation}
    return {key: merged.get(key) for key in COLUMNS} | {"machine": train.get("machine")}


def read_row(path: Path) -> dict:
    return read_json(path, "the model's summary", then="run `dvc repro` first")


def read_summary(path: Path) -> dict:
    """A model's summary row, refused in one line where an older evaluate wrote it without a column."""
    row = read_row(path)
    missing = [key for key in COLUMNS if key not in row]
    if missing:
        raise PipelineError(f"{path}: no {', '.join(missing)} (written by an older evaluate stage); "
                            "run `dvc repro` to evaluate the model again")
    return row


# Validation accuracy over the cross-validation folds; empty where it has not run for today's params.
CV_COLUMNS = ("cv_accuracy_mean", "cv_accuracy_std")
CV_HEADER = "cv accuracy (mean ± std)"


def build_report(rows: list[dict], cv: list[dict | None]) -> "pd.DataFrame":
    """rows: the models' summaries; cv: each model's current cross-validation interval, or None.

    pandas is imported here, not at the top: evaluate imports this module for its row, and
    importing pandas there cost every experiment 0.3 s."""
    import pandas as pd

    records = [
        {**{key: row.get(key) for key in COLUMNS},
         "cv_accuracy_mean": result["mean"] if result else None, "cv_accuracy_std": result["std"] if result else None}
        for row, result in zip(rows, cv)
    ]
    return pd.DataFrame(records, columns=[*COLUMNS, *CV_COLUMNS])


def to_markdown(report: "pd.DataFrame") -> str:
    """A GitHub markdown table, written here: pandas' `to_markdown` needs tabulate, which only
    DVC's own install brings (this project would have to pin it), and every cell is already a
    formatted string."""
    import pandas as pd

    formats = {"test_accuracy": "{:.2%}", "test_ece": "{:.2%}", "best_val_accuracy": "{:.2%}", "test_loss": "{:.4f}", "parameters": "{:,}",
               "epochs_run": "{:g}",
               "model": "`{}`"}
    headers = [*COLUMNS.values(), CV_HEADER]
    lines = ["| " + " | ".join(headers) + " |", "| --- |" + " ---: |" * (len(headers) - 1)]
    for row in report.to_dict("records"):
        cells = [formats.get(key, "{}").format(row[key]) for key in COLUMNS]
        mean, std = (row[key] for key in CV_COLUMNS)
        cells.append("not run" if pd.isna(mean) else f"{mean * 100:.2f} ± {std * 100:.2f}%")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def describe_machine(record: dict | None) -> str:
    """`AMD EPYC (AuthenticAMD, family 25, model 17), torch 2.14.1 with its AVX512 kernels, 2 threads`."""
    if not record:
        return "a machine not recorded (an older stage)"
    threads = plural(record["threads"], "thread") if isinstance(record.get("threads"), int) else "? threads"
    text = f"{describe_cpu(record)}, torch {record.get('torch', '?')} with its {record.get('kernels', '?')} kernels, {threads}"
    return text + (f", GPU {record['gpu']}" if record.get("gpu") else "")


def machines_line(machines: dict[str, dict | None], what: str = "model") -> str:
    """Which machine made each result (machines: a model's name, or a fold's, -> the machine record
    of training/device.machine), in one sentence: results are byte-identical only on the same CPU
    model, torch and thread count."""
    groups: dict[str, list[str]] = {}
    for name, record in machines.items():
        groups.setdefault(describe_machine(record), []).append(f"`{name}`")
    if len(groups) == 1:
        return f"Every {what} trained on {next(iter(groups))}.\n"
    return "Trained on " + "; ".join(f"{', '.join(names)}: {machine}" for machine, names in groups.items()) + ".\n"


def read_crossval(path: Path) -> dict:
    """The cross-validation summary; empty (nothing run) where the file does not exist."""
    return read_json(path, "the cross-validation results") if path.exists() else {}


def scores(row: dict, cv: dict | None) -> dict:
    """What a user compares across experiments, for `dvc metrics` and `dvc exp show`: the test
    accuracy, loss and expected calibration error after temperature scaling, the best validation
    accuracy and, where current, the cross-validation mean and the half-width of its 95% interval
    (left out, shown as "-", where it has not run)."""
    result = {key: row[key] for key in ("test_accuracy", "test_loss", "test_ece", "best_val_accuracy")}
    if cv:
        result |= {"cv_accuracy": cv["mean"], "cv_ci95": round((cv["ci95_high"] - cv["ci95_low"]) / 2, 6)}
    return result
