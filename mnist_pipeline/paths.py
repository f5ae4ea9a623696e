"""Where each stage reads and writes, relative to the project root (dvc.yaml names the same paths)."""

from pathlib import Path

RAW_DIR = Path("data/raw")
PREPARED_DIR = Path("data/prepared")


def prepared_split(split: str) -> Path:
    return PREPARED_DIR / f"{split}.pt"


def checkpoint_dir(model: str) -> Path:
    return Path("checkpoints") / model


def metrics_dir(model: str) -> Path:
    return Path("metrics") / model


def resume_path(model: str) -> Path:
    """Training's per-epoch resume state: outside every DVC output, which DVC deletes on rerun."""
    return Path(".resume") / f"{model}.pt"


REPORT_MD = Path("metrics/report.md")
REPORT_CSV = Path("metrics/report.csv")
