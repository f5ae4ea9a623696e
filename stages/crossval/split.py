"""Stage crossval split: assign each of the training images to one of k folds, stratified by class."""

import argparse
import logging

from mnist_pipeline.core import paths
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.params import crossval_params, load_params
from mnist_pipeline.data.folds import assign_folds, save_folds, training_images


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = crossval_params(load_params())
    data = training_images(paths.RAW_DIR)
    folds = assign_folds(data.labels, params.k, params.seed)
    save_folds(folds, params.k, paths.CROSSVAL_FOLDS)
    logging.info("%s: %d images in %d folds of %d to %d", paths.CROSSVAL_FOLDS, len(folds), params.k,
                 min(folds.bincount()[1:]), max(folds.bincount()[1:]))


if __name__ == "__main__":
    run_command(main)
