"""Per-epoch files through DVCLive: every epoch so far for `dvc plots`, and the latest epoch."""

from contextlib import contextmanager
from pathlib import Path

from mnist_pipeline.core.paths import EPOCH_METRICS

# Plotted every epoch but left out of metrics.json, the latest epoch's results: the schedule's
# rate is no result.
PLOT_ONLY = ("lr",)


@contextmanager
def epoch_logger(directory: Path):
    """A function that logs one epoch's stats, with step = the epoch's number.

    DVCLive empties its directory when it opens, so it opens at the first epoch logged: a stage
    that fails before training (a refused value, a missing device, a model that cannot be built)
    leaves the last run's files, which git tracks, as they were. dvc.yaml stays hand-written
    (dvcyaml=False: DVCLive would rewrite it on every step), and DVCLive saves no experiment of its
    own: `dvc exp run` does that.
    """
    opened = []

    def log_epoch(stats) -> None:
        if not opened:
            from dvclive import Live

            opened.append(Live(str(directory), dvcyaml=False, save_dvc_exp=False, report=None))
        live = opened[0]
        live.step = stats.epoch
        for name in EPOCH_METRICS:
            live.log_metric(name, getattr(stats, name))
        for name in PLOT_ONLY:  # DVCLive's summary "can be also modified manually" (Live.make_summary)
            live.summary.pop(name, None)
        live.next_step()

    yield log_epoch
    if opened:
        opened[0].end()  # only after a run that completes: a failed one does not tell DVC Studio it is done
