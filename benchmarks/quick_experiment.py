"""Where the time of one quick experiment goes: `dvc exp run -S models.model_4.lr=...`.

    python -m benchmarks.quick_experiment [--rounds 3] [--rev REV] [--against REV] [--docs]

In a fresh copy of the project (the working tree, or git revision REV) with the workspace's DVC
cache, so that `dvc checkout` gives it the committed outputs, each round runs one experiment on
model_4's learning rate (a new value each round, so nothing comes from DVC's run cache): check,
train@model_4, evaluate@model_4 and report run. A `sitecustomize` clocks each stage's process; the
train stage's own timing file gives its training seconds. With --against, a copy of that revision
is timed too, the two taking turns round by round. Prints the medians of each part; with --docs
writes them into docs/performance.md. Needs `dvc status` clean in the project (`dvc repro`).
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

from benchmarks.common import ROOT, machine_label, record
from benchmarks.speed import STAGE_CLOCK, _run, _with_sitecustomize, project_copy
from mnist_pipeline.core import paths
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


def table(medians: dict[str, dict], rounds: int) -> str:
    """medians: copy's label -> part -> median seconds."""
    labels = list(medians)
    lines = [f"One `dvc exp run -S models.model_4.lr=...` in a fresh copy of the project on {machine_label()}, medians of {rounds} "
             f"rounds{', the copies taking turns' if len(labels) > 1 else ''} (`python -m benchmarks.quick_experiment`):", "",
             "| part | " + " | ".join(labels) + " |", "| --- |" + " ---: |" * len(labels)]
    lines += [f"| {label} | " + " | ".join(f"{medians[copy][key]:.2f} s" for copy in labels) + " |"
              for key, label in PARTS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rev", help="time this git revision instead of the working tree")
    parser.add_argument("--against", metavar="REV", help="also time this git revision, taking turns")
    parser.add_argument("--docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args(argv)
    revisions = {args.rev or "now": args.rev, **({f"at {args.against}": args.against} if args.against else {})}
    with tempfile.TemporaryDirectory() as tmp:
        copies = {}
        for i, (label, rev) in enumerate(revisions.items()):
            copy, env = fresh_project(Path(tmp) / f"project{i}", rev)
            log = Path(tmp) / f"stages{i}.log"
            copies[label] = (copy, _with_sitecustomize(Path(tmp) / f"clock{i}", STAGE_CLOCK.format(log=str(log)), env), log)
        rounds: dict[str, list] = {label: [] for label in copies}
        for i in range(args.rounds):
            for label, (copy, env, log) in copies.items():
                rounds[label].append(one_round(copy, env, log, lr=round(0.0201 + 0.0001 * i, 6)))
                print(f"round {i + 1}, {label}: " + ", ".join(f"{k} {v:.2f} s" for k, v in rounds[label][-1].items()),
                      flush=True)
    medians = {label: {key: statistics.median(r[key] for r in runs) for key in PARTS} for label, runs in rounds.items()}
    text = table(medians, args.rounds)
    print("\n" + text)
    record({"quick_experiment": {"rounds": rounds, "medians": medians}})
    if args.docs:
        replace_block(ROOT / "docs" / "performance.md", "quick-experiment", text + "\n")


if __name__ == "__main__":
    main()
