"""README blocks regenerated from real outputs: `python -m mnist_pipeline.readme` after `dvc repro`.

A block is the text between `<!-- NAME:start -->` and `<!-- NAME:end -->`. The results block is
the report stage's `metrics/report.md`, the crossval block cross-validation's `crossval/report.md`;
the benchmark writes the performance block.
"""

from pathlib import Path

from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.paths import CROSSVAL_REPORT, REPORT_MD

README = Path("README.md")


def block(text: str, name: str) -> str:
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise PipelineError(f"README has no `{start.strip()}` ... `{end}` block")
    return text.split(start, 1)[1].split(end, 1)[0]


def replace_block(path: Path, name: str, content: str) -> None:
    """Put content (ending in a newline) between the block's markers in the file at path."""
    text = path.read_text()
    start = f"<!-- {name}:start -->\n"
    atomic_write_bytes(path, text.replace(start + block(text, name), start + content, 1).encode())


def main() -> None:
    for name, report, command in (("results", REPORT_MD, "dvc repro"), ("crossval", CROSSVAL_REPORT, "dvc repro crossval/dvc.yaml")):
        try:
            text = report.read_text()
        except OSError as exc:
            raise PipelineError(f"{report}: cannot read ({exc.strerror}); run `{command}` first") from None
        replace_block(README, name, text)
        print(f"{README}: {name} block updated from {report}")


if __name__ == "__main__":
    run_command(main)
