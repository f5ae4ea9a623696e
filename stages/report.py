"""Stage report: one table (markdown and CSV) of every model's size, test scores and training run."""

import argparse

from mnist_pipeline.cli import run_stage
from mnist_pipeline.io import atomic_write_bytes, write_csv
from mnist_pipeline.paths import REPORT_CSV, REPORT_MD
from mnist_pipeline.report import build_report, to_markdown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="+", help="the models to compare, in table order")
    report = build_report(parser.parse_args(argv).models)
    write_csv(report, REPORT_CSV)
    markdown = to_markdown(report)
    atomic_write_bytes(REPORT_MD, markdown.encode())
    print(markdown, end="")


if __name__ == "__main__":
    run_stage(main)
