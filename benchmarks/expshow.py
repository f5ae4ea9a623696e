"""The README's `dvc exp show` example, made by running it: one experiment on model_4's learning rate.

    python -m benchmarks.expshow [--docs]

Runs `dvc exp run --temp -n lr-0.03 -S models.model_4.lr=0.03` in the project (train@model_4,
evaluate@model_4 and report; the workspace is left as it was), prints `dvc exp show` narrowed to
that model's scores and learning rate, counts the whole table's columns and those of
`--only-changed`, then removes the experiment. With --docs, writes it all into the README's
`expshow` block. Needs `dvc status` clean, or the experiment would carry other changes too.
"""

import argparse
import subprocess
import sys
import textwrap

from benchmarks.common import ROOT
from mnist_pipeline.readme import replace_block

NAME, VALUE = "lr-0.03", "0.03"
RUN = ["dvc", "exp", "run", "--temp", "-n", NAME, "-S", f"models.model_4.lr={VALUE}"]
SHOW = ["dvc", "exp", "show", "--drop", ".*", "--keep",
        "Experiment|models.model_4.lr|.*model_4.json:(test_accuracy|best_val_accuracy|cv_accuracy)"]


def dvc(args: list[str]) -> str:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: `{' '.join(args)}` failed:\n{done.stderr.strip()}")
    return done.stdout


def columns(args: list[str]) -> int:
    """How many columns `dvc exp show` with these arguments has (its CSV header, Experiment and rev included)."""
    return len(dvc(["dvc", "exp", "show", "--csv", *args]).splitlines()[0].split(","))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", action="store_true", help="write the README's expshow block")
    args = parser.parse_args(argv)
    if subprocess.run(["dvc", "status", "--quiet"], cwd=ROOT).returncode:
        sys.exit("error: `dvc status` shows changes; run `dvc repro` first")
    dvc(RUN)
    try:
        table = "\n".join(line.rstrip() for line in dvc(["env", "COLUMNS=200", *SHOW]).rstrip().splitlines())
        every, changed = columns([]), columns(["--only-changed"])
    finally:
        dvc(["dvc", "exp", "remove", NAME])
    quoted = " ".join(f"'{a}'" if any(c in a for c in "|.*(") else a for a in SHOW)
    prose = (f"The whole table has {every} columns (counted in `--csv`, the experiment's name, date and state "
             f"included); with `--only-changed` alone, {changed}: model_4's scores and live metrics, its checkpoint and "
             "the learning rate. The CV columns show `-` for the experiment: its recipe was never cross-validated, and a "
             "stale result is never shown as its own. (`python -m benchmarks.expshow --docs` runs this and writes it here.)")
    text = f"```\n$ {' '.join(RUN)}\n$ {quoted}\n{table}\n```\n\n{textwrap.fill(prose, 110)}\n"
    print(text)
    if args.docs:
        replace_block(ROOT / "README.md", "expshow", text)


if __name__ == "__main__":
    main()
