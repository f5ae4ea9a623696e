"""What a model removed from params.yaml leaves behind: DVC keeps a removed stage's dvc.lock entry
and its files, so its checkpoints, its row in `dvc metrics show` and its curves would stay.

    python -m mnist_pipeline.leftovers            # list them (the check stage warns of them too)
    python -m mnist_pipeline.leftovers --remove   # delete them and their dvc.lock entries
"""

import argparse
import shutil
from pathlib import Path

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.params import load_params, model_names
from mnist_pipeline.core.program import program

LOCKS = (Path("dvc.lock"), paths.CROSSVAL_DIR / "dvc.lock")
REMOVE = "python -m mnist_pipeline.leftovers --remove"


def model_paths(model: str) -> list[Path]:
    return [paths.CHECKPOINTS_DIR / model, paths.METRICS_DIR / model, paths.summary(model), paths.scores(model),
            paths.timing(model), paths.CROSSVAL_RESULTS_DIR / model, paths.fold_plot(model), paths.resume_state(model),
            paths.fold_markers(model)]


def stage_model(stage: str) -> str | None:
    """The model of a per-model stage: train@m, evaluate@m, folds@m."""
    kind, _, item = stage.partition("@")
    return item if kind in ("train", "evaluate", "folds") else None


def locked_stages() -> dict[Path, list[str]]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the check stage reads both locks on every run
    stages = {}
    for lock in LOCKS:
        try:
            stages[lock] = list((yaml.load(lock.read_text(), Loader=loader) or {}).get("stages", {}))
        except (OSError, yaml.YAMLError, AttributeError):
            stages[lock] = []
    return stages


def leftovers(models: list[str]) -> dict[str, list[str]]:
    """model -> its files and lock entries, for every model on disk that is not in models."""
    per_model = (paths.SUMMARY_DIR, paths.SCORES_DIR, paths.TIMING_DIR)  # a file per model
    seen = {p.name for folder in (paths.CHECKPOINTS_DIR, paths.METRICS_DIR, paths.CROSSVAL_RESULTS_DIR)
            if folder.is_dir() for p in folder.iterdir() if p.is_dir() and p not in per_model}
    seen |= {p.stem for folder in per_model if folder.is_dir() for p in folder.glob("*.json")}
    found = {}
    for lock, stages in locked_stages().items():
        for stage in stages:
            model = stage_model(stage)
            if model and model not in models:
                found.setdefault(model, []).append(f"{lock}: {stage}")
    for model in sorted(seen - set(models)):
        found.setdefault(model, [])[:0] = [str(p) for p in model_paths(model) if p.exists()]
    return found


def find_leftovers(models: list[str]) -> list[str]:
    """One warning line per removed model that left outputs."""
    return [f"models.{model}: no longer in {paths.PARAMS_FILE}, but its outputs remain ({', '.join(items)}); "
            f"remove them with `{REMOVE}`" for model, items in leftovers(models).items()]


def remove(models: list[str]) -> list[str]:
    from dvc.utils.serialize import modify_yaml  # DVC's own round-trip writer keeps dvc.lock's layout

    gone = leftovers(models)
    for model in gone:
        for path in model_paths(model):
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for lock, stages in locked_stages().items():
        stale = [s for s in stages if stage_model(s) in gone]
        if stale:
            with modify_yaml(lock) as data:
                for stage in stale:
                    del data["stages"][stage]
    return list(gone)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--remove", action="store_true", help="delete them and their dvc.lock entries")
    remove_them = parser.parse_args(argv).remove
    models = model_names(load_params())
    if remove_them:
        removed = remove(models)
        print(f"removed the outputs of {', '.join(removed)}" if removed else "nothing to remove")
    else:
        print("\n".join(find_leftovers(models)) or "no leftovers")


if __name__ == "__main__":
    run_command(main)
