"""Compare one model's cross-validation between two revisions, fold by fold.

    python -m mnist_pipeline.compare model_2 main cv-m2-lr-1e-3

Each revision is a git commit, branch or tag, a DVC experiment's name, or `workspace`. Both must
have cross-validated the model on the same folds (same `crossval` params); the difference B - A
gets the same corrected 95% interval as the cross-validation report's model comparisons.
"""

import argparse
import json
import subprocess
from pathlib import Path

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import parse_params
from mnist_pipeline.core.program import program
from mnist_pipeline.evaluation.crossval import current_result, paired_difference, pp, verdict


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"git {' '.join(args)}: {(result.stderr.strip().splitlines() or ['failed'])[-1]}")
    return result.stdout


def commit_of(revision: str) -> str | None:
    """The commit of a git revision or DVC experiment name; None for the workspace."""
    if revision == "workspace":
        return None
    for line in git("for-each-ref", "refs/exps", "--format=%(objectname) %(refname)").splitlines():
        commit, ref = line.split(" ", 1)
        if ref.rsplit("/", 1)[-1] == revision:
            return commit
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise PipelineError(f"{revision}: not a git commit, branch or tag, a DVC experiment, or `workspace`")
    return found.stdout.strip()


def read_at(commit: str | None, path) -> str | None:
    """A file's text in a commit (None: the workspace); None where it has no such file."""
    if commit is None:
        return Path(path).read_text() if Path(path).is_file() else None
    found = subprocess.run(["git", "show", f"{commit}:{Path(path).as_posix()}"], capture_output=True, text=True)
    return found.stdout if found.returncode == 0 else None


def fold_results(model: str, revision: str) -> dict[int, dict]:
    """fold number -> that fold's result, as the revision has them; refused where they were not run
    with the revision's own params (its report says "not run" then)."""
    commit = commit_of(revision)
    folder = paths.fold_result(model, 1).parent
    if commit is None:
        files = {p.name: p.read_text() for p in sorted(folder.glob("fold_*.json"))}
    else:
        listing = subprocess.run(["git", "ls-tree", "--name-only", f"{commit}:{folder.as_posix()}"],
                                 capture_output=True, text=True).stdout.split()
        files = {name: git("show", f"{commit}:{(folder / name).as_posix()}") for name in listing}
    if not files:
        raise PipelineError(f"{revision}: no cross-validation results for {model} in {folder}")
    params, summary = read_at(commit, paths.PARAMS_FILE), read_at(commit, paths.CROSSVAL_SUMMARY)
    try:
        current = current_result(json.loads(summary or "{}"), parse_params(params or ""), model)
    except (PipelineError, json.JSONDecodeError, KeyError, TypeError):
        current = None
    if current is None:
        then = "" if commit is None else f" (e.g. `dvc exp apply {revision}`, then `dvc exp run crossval/dvc.yaml`)"
        raise PipelineError(f"{revision}: its cross-validation results for {model} were not made with its params.yaml "
                            f"(its report says \"not run\"); run `dvc repro crossval/dvc.yaml` with those params{then}")
    results = [json.loads(text) for text in files.values()]
    return {r["fold"]: r for r in results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("a", help="revision A")
    parser.add_argument("b", help="revision B")
    args = parser.parse_args(argv)
    a, b = fold_results(args.model, args.a), fold_results(args.model, args.b)
    same = ("folds", "folds_seed", "val_images")
    if sorted(a) != sorted(b) or any(a[f].get(key) != b[f].get(key) for f in a for key in same):
        raise PipelineError(f"{args.a} and {args.b} cross-validated {args.model} on different folds; rerun one "
                            "with the other's `crossval` params")
    folds = sorted(a)
    accuracy_a, accuracy_b = [a[f]["val_accuracy"] for f in folds], [b[f]["val_accuracy"] for f in folds]
    difference = paired_difference(accuracy_a, accuracy_b)
    for f, x, y in zip(folds, accuracy_a, accuracy_b):
        print(f"fold {f}: {pp(x)}% -> {pp(y)}% ({pp(y - x, sign=True)} pp)")
    print(f"{args.model}, {args.b} - {args.a}: {pp(difference['mean'], sign=True)} pp, 95% interval "
          f"{pp(difference['ci95_low'], sign=True)} to {pp(difference['ci95_high'], sign=True)} pp: "
          f"{verdict(difference, args.a, args.b).replace('`', '')}")


if __name__ == "__main__":
    run_command(main)
