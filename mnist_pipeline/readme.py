"""The generated blocks of the README and docs, rewritten from real outputs:
`python -m mnist_pipeline.readme` after `dvc repro` (and after `dvc repro crossval/dvc.yaml`).

A block is the text between `<!-- NAME:start -->` and `<!-- NAME:end -->`: README.md's `results`
is the report stage's metrics/report.md and its `metrics` what `dvc metrics show` prints (which
`python -m mnist_pipeline.sync` writes too: a model added to params.yaml adds its row);
docs/experiments.md's `crossval` is cross-validation's crossval/report.md. The benchmarks write
theirs with `--docs`: docs/performance.md's `performance` (benchmarks.speed), `time-to-99` and
`time-to-99-candidates` (benchmarks.time_to_accuracy), `quick-experiment`
(benchmarks.quick_experiment); docs/predict.md's `controls` (benchmarks.predict_controls);
docs/models.md's `ablation` and `ablation-runs` (`python -m benchmarks.ablation table --docs`).
docs/models.md's `results` is the report too; its `recipes` (params.yaml's models) is
`python -m mnist_pipeline.sync`'s.
"""

import argparse
import subprocess
from pathlib import Path

from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.paths import CROSSVAL_REPORT, REPORT_MD
from mnist_pipeline.core.program import program

README = Path("README.md")
EXPERIMENTS_DOC = Path("docs/experiments.md")
MODELS_DOC = Path("docs/models.md")
# (file, block, report it copies, the command that makes the report)
REPORT_BLOCKS = ((README, "results", REPORT_MD, "dvc repro"),
                 (MODELS_DOC, "results", REPORT_MD, "dvc repro"),
                 (EXPERIMENTS_DOC, "crossval", CROSSVAL_REPORT, "dvc repro crossval/dvc.yaml"))


def block(text: str, name: str) -> str:
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise PipelineError(f"no `{start.strip()}` ... `{end}` block")
    return text.split(start, 1)[1].split(end, 1)[0]


def replace_in(text: str, name: str, content: str) -> str:
    """text with content (ending in a newline) between the block's markers."""
    start = f"<!-- {name}:start -->\n"
    return text.replace(start + block(text, name), start + content, 1)


def replace_block(path: Path, name: str, content: str) -> None:
    """Put content (ending in a newline) between the block's markers in the file at path."""
    try:
        text = replace_in(path.read_text(), name, content)
    except PipelineError as exc:
        raise PipelineError(f"{path}: {exc}") from None
    atomic_write_bytes(path, text.encode())


def metrics_block() -> str:
    """`dvc metrics show` as a terminal shows it."""
    shown = subprocess.run(["dvc", "metrics", "show"], capture_output=True, text=True)
    if shown.returncode != 0:
        raise PipelineError(f"dvc metrics show failed: {(shown.stderr.strip().splitlines() or ['?'])[-1]}")
    return "```\n$ dvc metrics show\n" + "\n".join(line.rstrip() for line in shown.stdout.strip().splitlines()) + "\n```\n"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog=program(), description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    for path, name, report, command in REPORT_BLOCKS:
        try:
            text = report.read_text()
        except OSError as exc:
            raise PipelineError(f"{report}: cannot read ({exc.strerror}); run `{command}` first") from None
        replace_block(path, name, text)
        print(f"{path}: {name} block updated from {report}")
    replace_block(README, "metrics", metrics_block())
    print(f"{README}: metrics block updated from `dvc metrics show`")


if __name__ == "__main__":
    run_command(main)
