"""Per-epoch metrics through DVCLive, so `dvc exp show` and `dvc plots` see a run while it trains."""

from contextlib import contextmanager
from pathlib import Path

from mnist_pipeline.core.paths import EPOCH_METRICS

# Plotted every epoch but left out of metrics.json, DVC's live metric: the schedule's rate is no
# result to compare, and each live metric is one more column per model in `dvc exp show`.
PLOT_ONLY = ("lr",)


@contextmanager
def epoch_logger(directory: Path):
    """A function that logs one epoch's stats, with step = the epoch's number.

    dvc.yaml stays hand-written (dvcyaml=False: DVCLive would rewrite it on every step), and
    DVCLive saves no experiment of its own: `dvc exp run` does that.
    """
    from dvclive import Live

    live = Live(str(directory), dvcyaml=False, save_dvc_exp=False, report=None)

    def log_epoch(stats) -> None:
        live.step = stats.epoch
        for name in EPOCH_METRICS:
            live.log_metric(name, getattr(stats, name))
        for name in PLOT_ONLY:  # DVCLive's summary "can be also modified manually" (Live.make_summary)
            live.summary.pop(name, None)
        live.next_step()

    yield log_epoch
    live.end()  # only after a run that completes: a failed one does not tell DVC Studio it is done
