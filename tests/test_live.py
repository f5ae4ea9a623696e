"""DVCLive's per-epoch files: what a failed train stage leaves of the last run's."""

import json
from types import SimpleNamespace

import pytest

from mnist_pipeline.core.paths import EPOCH_METRICS
from mnist_pipeline.training.live import epoch_logger


def _epoch(number: int):
    return SimpleNamespace(epoch=number, **{name: 0.5 + number / 100 for name in EPOCH_METRICS})


def _files(directory):
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_run_logs_every_epoch_and_the_latest(tmp_path):
    live = tmp_path / "live"
    with epoch_logger(live) as log_epoch:
        for number in (1, 2):
            log_epoch(_epoch(number))
    assert json.loads((live / "metrics.json").read_text())["step"] == 2
    assert "lr" not in json.loads((live / "metrics.json").read_text())
    assert (live / "plots/metrics/val_accuracy.tsv").read_text().splitlines()[1:] == ["1\t0.51", "2\t0.52"]


def test_a_stage_that_fails_before_its_first_epoch_keeps_the_last_runs_files(tmp_path):
    live = tmp_path / "live"
    with epoch_logger(live) as log_epoch:  # the committed run
        log_epoch(_epoch(1))
    committed = _files(live)
    assert "metrics.json" in committed and "plots/metrics/val_loss.tsv" in committed

    with pytest.raises(RuntimeError), epoch_logger(live):
        raise RuntimeError("device 'cuda' was asked for, but CUDA is not available")
    assert _files(live) == committed
