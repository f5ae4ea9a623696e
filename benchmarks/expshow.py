"""The README's `dvc exp show` example, made by running it: one experiment on model_4's learning rate.

    python -m benchmarks.expshow [--docs]

Runs `dvc exp run --temp -n lr-0.03 -S models.model_4.lr=0.03` in the project (train@model_4,
evaluate@model_4 and report; the workspace is left as it was), prints `dvc exp show` narrowed to
the question "which experiment has the best model_4?" as a 120-column terminal shows it, counts the
whole table's columns, then removes the experiment. A table wider than 120 columns, or one with a
column collapsed to `…`, is an error. With --docs, writes it all into the README's `expshow` block.
Needs `dvc status` clean, or the experiment would carry other changes too.
"""

import argparse
import os
import shlex
import subprocess
import sys
import textwrap

from benchmarks.common import ROOT
from mnist_pipeline.readme import replace_block

NAME, VALUE = "lr-0.03", "0.03"
WIDTH = 120
RUN = ["dvc", "exp", "run", "--temp", "-n", NAME, "-S", f"models.model_4.lr={VALUE}"]
SCORE = "metrics/scores/model_4.json:best_val_accuracy"
SHOW = ["dvc", "exp", "show", "--drop", ".*", "--keep", "Experiment|models.model_4.lr|metrics/scores/model_4.json:best_val",
        "--sort-by", SCORE, "--sort-order", "desc"]


def dvc(args: list[str], columns: int = WIDTH) -> str:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "COLUMNS": str(columns)})
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
        table = "\n".join(line.rstrip() for line in dvc(SHOW).rstrip().splitlines())
        every = columns([])
    finally:
        dvc(["dvc", "exp", "remove", NAME])
    if max(map(len, table.splitlines())) > WIDTH or "…" in table:
        sys.exit(f"error: the table does not fit {WIDTH} columns:\n{table}")
    prose = (f"The whole table has {every} columns (counted in `--csv`, the experiment's name, date and state "
             "included). (`python -m benchmarks.expshow --docs` runs this at 120 columns and writes it here.)")
    text = f"```\n$ {shlex.join(RUN)}\n$ {shlex.join(SHOW)}\n{table}\n```\n\n{textwrap.fill(prose, 110)}\n"
    print(text)
    if args.docs:
        replace_block(ROOT / "README.md", "expshow", text)


if __name__ == "__main__":
    main()
