"""Every path the project reads or writes, relative to the project root.

dvc.yaml declares the same paths to DVC; tests/test_dvc_yaml.py checks that the two agree.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # for commands run from elsewhere, e.g. `mnist-predict`
MODELS_DIR = PROJECT_ROOT / "models"
PARAMS_FILE = Path("params.yaml")
PARAMS_CHECKED = Path("data/params-checked")  # the check stage's output, the same bytes every time
RAW_DIR = Path("data/raw")
CHECKPOINTS_DIR = Path("checkpoints")
PREPARED_DIR = Path("data/prepared")
METRICS_DIR = Path("metrics")
TIMING_DIR = METRICS_DIR / "timing"      # wall time: committed, never a hashed output (see dvc.yaml)
SUMMARY_DIR = METRICS_DIR / "summary"    # one row per model, gathered by the report stage
REPORT_MD = METRICS_DIR / "report.md"
REPORT_CSV = METRICS_DIR / "report.csv"
RESUME_DIR = Path(".resume")             # outside every DVC output: DVC deletes those on rerun
# Cross-validation, a pipeline of its own (crossval/dvc.yaml) that runs on request.
CROSSVAL_DIR = Path("crossval")
CROSSVAL_REPORT = CROSSVAL_DIR / "report.md"
CROSSVAL_RESULTS_DIR = CROSSVAL_DIR / "results"
# Every model's mean, spread and interval, the digest of the params it ran with, and the paired
# comparisons: no stage's declared output, so that the main report can depend on it without
# `dvc repro` running cross-validation (see crossval/dvc.yaml).
CROSSVAL_SUMMARY = CROSSVAL_DIR / "summary.json"
# What a user compares across experiments, one file per model (the report's): DVC's metrics.
SCORES_DIR = METRICS_DIR / "scores"


def prepared_split(split: str) -> Path:
    return PREPARED_DIR / f"{split}.pt"


def checkpoint(model: str, which: str = "best") -> Path:
    return CHECKPOINTS_DIR / model / f"{which}.pt"


def model_metrics(model: str, file: str) -> Path:
    """metrics/<model>/<file>: one of TRAIN_METRICS (written by train) or EVAL_METRICS (by evaluate)."""
    assert file in TRAIN_METRICS + EVAL_METRICS, file
    return METRICS_DIR / model / file


TRAIN_METRICS = ("train.json",)
# DVCLive's per-epoch logs: its files of one quantity per line, under live/plots/metrics/.
# (Training accuracy, on augmented batches, is printed but not logged: no chart shows it, and each
# logged quantity is one more column per model in `dvc exp show`.)
EPOCH_METRICS = ("train_loss", "val_loss", "val_accuracy", "lr")
EVAL_METRICS = ("eval.json", "per_class.csv", "confusion_matrix.csv", "predictions.csv", "misclassified.png")


def live_dir(model: str) -> Path:
    """DVCLive's directory for one model (DVCLive empties it when training starts): metrics.json
    holds the latest epoch, plots/metrics/<quantity>.tsv every epoch's value."""
    return METRICS_DIR / model / "live"


def scores(model: str) -> Path:
    return SCORES_DIR / f"{model}.json"


def timing(model: str) -> Path:
    return TIMING_DIR / f"{model}.json"


def summary(model: str) -> Path:
    return SUMMARY_DIR / f"{model}.json"


def resume_state(model: str) -> Path:
    return RESUME_DIR / f"{model}.pt"


def fold_result(model: str, fold: int) -> Path:
    """One fold's validation accuracy and loss after training on the other folds."""
    return CROSSVAL_RESULTS_DIR / model / f"fold_{fold}.json"


def fold_plot(model: str) -> Path:
    return CROSSVAL_DIR / "plots" / f"{model}.csv"


def fold_markers(model: str) -> Path:
    """Where a cross-validation stage marks the folds it finished, so a killed run keeps them."""
    return RESUME_DIR / "crossval" / model
