"""Stage preprocess: validate the IDX files, split off a seeded validation set, write uint8 tensors."""

import argparse
import logging

from mnist_pipeline.cli import run_stage
from mnist_pipeline.params import load_params, preprocess_params
from mnist_pipeline.paths import PREPARED_DIR, RAW_DIR
from mnist_pipeline.prepare import prepare


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    params = preprocess_params(load_params())
    splits = prepare(RAW_DIR, PREPARED_DIR, params.val_size, params.seed)
    for name, split in splits.items():
        logging.info("%s: %d images", PREPARED_DIR / f"{name}.pt", len(split))


if __name__ == "__main__":
    run_stage(main)
