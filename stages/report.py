"""Stage report: one table (markdown and CSV) of every model in params.yaml, from their summaries
and, where it ran with the model's current params, its cross-validation; and each model's scores,
the metrics DVC shows."""

import argparse

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.files import atomic_write_bytes, write_json
from mnist_pipeline.core.params import load_params, model_names
from mnist_pipeline.core.program import program
from mnist_pipeline.evaluation.crossval import current_result
from mnist_pipeline.evaluation.report import (
    build_report,
    machines_line,
    read_crossval,
    read_summary,
    scores,
    to_markdown,
)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog=program(), description=__doc__).parse_args(argv)
    params = load_params()
    names = model_names(params)
    crossval = read_crossval(paths.CROSSVAL_SUMMARY)
    rows = [read_summary(paths.summary(name)) for name in names]
    cv = [current_result(crossval, params, name) for name in names]
    for name, row, result in zip(names, rows, cv):
        write_json(scores(row, result), paths.scores(name))
    report = build_report(rows, cv)
    atomic_write_bytes(paths.REPORT_CSV, report.to_csv(index=False, lineterminator="\n").encode())
    markdown = to_markdown(report) + "\n" + machines_line({row["model"]: row.get("machine") for row in rows})
    atomic_write_bytes(paths.REPORT_MD, markdown.encode())
    print(markdown, end="")


if __name__ == "__main__":
    run_command(main)
