"""Which checkpoint a MODEL argument names: a file as given, or a model of the DVC project the user
stands in (the folder holding `.dvc/` that contains the current directory), never the checkout
the command happens to be installed from."""

import json
from pathlib import Path

from mnist_pipeline.core import paths
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import load_params, model_names

DEFAULT_MODEL = "model_3"  # without a current cross-validation: the accuracy model


def project_root(start: Path | None = None) -> Path | None:
    """The DVC project containing start (default: the current directory), or None outside any."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def is_model(argument: str) -> bool:
    """A checkpoint file or a model name, not a picture: pictures are files, most with a suffix."""
    path = Path(argument)
    return path.suffix == ".pt" or (not path.exists() and not path.suffix and "/" not in argument)


def is_checkpoint_file(model: str) -> bool:
    path = Path(model)
    return path.suffix == ".pt" or path.is_file()


def require_project(root: Path | None, what: str) -> Path:
    if root is None:
        raise PipelineError(f"{what} needs a DVC project, and {Path.cwd()} is in none: run mnist-predict inside "
                            "the project, or name a checkpoint file (mnist-predict path/to/checkpoints/model_3/best.pt IMAGE...)")
    return root


def resolve_checkpoint(model: str, root: Path | None) -> Path:
    """A checkpoint file as given, or the model's best checkpoint in the project at root."""
    if is_checkpoint_file(model):
        return Path(model)
    return require_project(root, f"the model name {model!r}") / paths.checkpoint(model)


def require_trained(model: str, root: Path, checkpoint: Path) -> None:
    """A model name whose checkpoint is missing: unknown to the project, or not trained yet."""
    if checkpoint.exists():
        return
    try:
        known = model_names(load_params(root / paths.PARAMS_FILE))
    except PipelineError:
        known = []
    if model not in known:
        raise PipelineError(f"unknown model {model!r} (this project's: {', '.join(known) or 'none'}), "
                            "and no such checkpoint file")
    raise PipelineError(f"{checkpoint}: no checkpoint of {model} in this project yet: train it with "
                        f"`dvc repro train@{model}` (or fetch it with `dvc pull`)")


def default_model(root: Path) -> tuple[str, str]:
    """(model name, why it was chosen): the best current cross-validated accuracy, else DEFAULT_MODEL."""
    try:
        names = model_names(load_params(root / paths.PARAMS_FILE))
    except PipelineError:
        names = []
    cross_validated = {}
    for name in names:
        try:
            scores = json.loads((root / paths.scores(name)).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(scores, dict) and "cv_accuracy" in scores and (root / paths.checkpoint(name)).exists():
            cross_validated[name] = scores
    if not cross_validated:
        return DEFAULT_MODEL, "the default; no model has a current cross-validation"
    best = max(cross_validated, key=lambda n: cross_validated[n]["cv_accuracy"])
    scores = cross_validated[best]
    mean, half = scores["cv_accuracy"], scores.get("cv_ci95")
    # The interval as crossval/report.md writes it: "±" means mean ± standard deviation in every table.
    interval = f", 95% interval {(mean - half) * 100:.2f} to {(mean + half) * 100:.2f}%" if half is not None else ""
    return best, f"the best cross-validated accuracy, {mean:.2%}{interval}"
