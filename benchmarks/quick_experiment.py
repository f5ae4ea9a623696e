"""Where the time of one quick experiment goes: `dvc exp run -S models.model_4.lr=...`.

    python -m benchmarks.quick_experiment [--rounds 3] [--rev REV] [--docs]

In a fresh copy of the project (the working tree, or git revision REV) with the workspace's DVC
cache, so that `dvc checkout` gives it the committed outputs, each round runs one experiment on
model_4's learning rate (a new value each round, so nothing comes from DVC's run cache): check,
train@model_4, evaluate@model_4 and report run. A `sitecustomize` clocks each stage's process; the
train stage's own timing file gives its training seconds. Prints the medians of each part; with
--docs writes them into docs/performance.md. Needs `dvc status` clean in the project (`dvc repro`).
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, ROOT
from benchmarks.speed import STAGE_CLOCK, _run, _with_sitecustomize, project_copy
from mnist_pipeline.core import paths
from mnist_pipeline.core.files import write_json
from mnist_pipeline.readme import replace_block

STAGES = ("check", "train", "evaluate", "report")
PARTS = {
    "dvc_before": "DVC before the first stage (start-up, setting up the experiment, checking what changed)",
    "check": "check",
    "train_fit": "train@model_4: training (epochs and validation)",
    "train_rest": "train@model_4: the rest of its process (imports, loading the data, writing outputs)",
    "evaluate": "evaluate@model_4",
    "report": "report",
    "dvc_between": "DVC between stages (hashing outputs, writing dvc.lock, starting each stage)",
    "dvc_after": "DVC after the last stage (saving the experiment)",
    "total": "**the whole `dvc exp run`**",
}


def one_round(copy: Path, env: dict, log: Path, lr: float) -> dict:
    log.unlink(missing_ok=True)
    start = time.time()
    _run(["dvc", "exp", "run", "-S", f"models.model_4.lr={lr}"], copy, env)
    end = time.time()
    spans = {}
    for line in log.read_text().splitlines():
        began, ended, script = line.split(maxsplit=2)
        spans[Path(script).stem] = (float(began), float(ended))
    if sorted(spans) != sorted(STAGES):
        sys.exit(f"error: expected the stages {', '.join(STAGES)} to run, ran: {', '.join(spans) or 'none'}")
    fit = json.loads((copy / paths.timing("model_4")).read_text())["train_seconds"]
    ordered = sorted(spans.values())
    inside = sum(e - b for b, e in ordered)
    parts = {name: e - b for name, (b, e) in spans.items()}
    return {
        "dvc_before": ordered[0][0] - start, "check": parts["check"], "train_fit": fit,
        "train_rest": parts["train"] - fit, "evaluate": parts["evaluate"], "report": parts["report"],
        "dvc_between": ordered[-1][1] - ordered[0][0] - inside, "dvc_after": end - ordered[-1][1],
        "total": end - start,
    }


def fresh_project(folder: Path, rev: str | None) -> tuple[Path, dict]:
    """A copy of the working tree (or of rev) with the workspace's cache and its outputs checked out."""
    copy, env = project_copy(folder, None, rev)
    shutil.copytree(ROOT / ".dvc" / "cache", copy / ".dvc" / "cache")
    _run(["dvc", "checkout", "--quiet"], copy, env)
    if subprocess.run(["dvc", "status", "--quiet"], cwd=copy, env=env).returncode:
        sys.exit("error: the project's outputs are not those its dvc.lock records; run `dvc repro` first")
    return copy, env


def table(medians: dict, rounds: int) -> str:
    lines = [f"One `dvc exp run -S models.model_4.lr=...` in a fresh copy of the project, medians of {rounds} "
             "rounds (`python -m benchmarks.quick_experiment`):", "", "| part | seconds |", "| --- | ---: |"]
    lines += [f"| {label} | {medians[key]:.2f} |" for key, label in PARTS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rev", help="time this git revision instead of the working tree")
    parser.add_argument("--docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        copy, env = fresh_project(Path(tmp) / "project", args.rev)
        log = Path(tmp) / "stages.log"
        clocked = _with_sitecustomize(Path(tmp) / "clock", STAGE_CLOCK.format(log=str(log)), env)
        rounds = []
        for i in range(args.rounds):
            rounds.append(one_round(copy, clocked, log, lr=round(0.0201 + 0.0001 * i, 6)))
            print(f"round {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in rounds[-1].items()), flush=True)
    medians = {key: statistics.median(r[key] for r in rounds) for key in PARTS}
    text = table(medians, args.rounds)
    print("\n" + text)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["quick_experiment"] = {"rev": args.rev or "working tree", "rounds": rounds, "medians": medians}
    write_json(results, RESULTS)
    if args.docs:
        replace_block(ROOT / "docs" / "performance.md", "quick-experiment", text + "\n")


if __name__ == "__main__":
    main()
