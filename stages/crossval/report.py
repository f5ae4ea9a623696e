"""Stage crossval report: every model's mean, spread and 95% interval over the folds, paired
comparisons on the same folds, the per-fold plot data, and the CV table in markdown."""

import argparse

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.files import atomic_write_bytes, read_json, write_json
from mnist_pipeline.core.params import crossval_params, load_params, model_names
from mnist_pipeline.core.program import program
from mnist_pipeline.evaluation.crossval import params_digest, summarize, to_markdown
from mnist_pipeline.evaluation.report import machines_line


def read_result(model: str, fold: int) -> dict:
    return read_json(paths.fold_result(model, fold), "the fold's result", then="run `dvc repro crossval/dvc.yaml`")


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog=program(), description=__doc__).parse_args(argv)
    params = load_params()
    crossval = crossval_params(params)
    results = {name: [read_result(name, fold) for fold in crossval.folds] for name in model_names(params)}
    summary = summarize(results, {name: params_digest(params, name) for name in results})
    write_json(summary, paths.CROSSVAL_SUMMARY)
    for name, folds in results.items():
        rows = [f"{f['fold']},{f['val_accuracy']},{f['val_loss']}\n" for f in folds]
        atomic_write_bytes(paths.fold_plot(name), ("fold,val_accuracy,val_loss\n" + "".join(rows)).encode())
    images = sum(f["val_images"] for f in next(iter(results.values())))  # each image is in one fold
    folds = {f"{name} {f['fold']}": f.get("machine") for name, results_ in results.items() for f in results_}
    markdown = to_markdown(summary, results, images, crossval.seed) + "\n" + machines_line(folds, what="fold")
    atomic_write_bytes(paths.CROSSVAL_REPORT, markdown.encode())
    print(markdown, end="")


if __name__ == "__main__":
    run_command(main)
