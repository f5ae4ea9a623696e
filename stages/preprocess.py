"""Stage preprocess: validate the IDX files, split off a seeded validation set, write uint8 tensors."""

import argparse
import logging

from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.params import load_params, preprocess_params
from mnist_pipeline.core.paths import RAW_DIR, prepared_split
from mnist_pipeline.core.program import program
from mnist_pipeline.data.splits import prepare, save_split


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog=program(), description=__doc__).parse_args(argv)
    params = preprocess_params(load_params())
    splits = prepare(RAW_DIR, params.val_size, params.seed)  # every check passes before anything is written
    for name, split in splits.items():
        save_split(split, prepared_split(name))
        logging.info("%s: %d images", prepared_split(name), len(split))


if __name__ == "__main__":
    run_command(main)
