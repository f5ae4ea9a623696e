"""Stage download: the four MNIST IDX files into data/raw/, each verified against its SHA-256."""

import argparse
import logging
import os

from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.params import MIRROR_ENV, download_params, extra_sources, load_params
from mnist_pipeline.core.paths import RAW_DIR
from mnist_pipeline.core.program import program
from mnist_pipeline.data.sources import fetch_verified


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__)
    parser.add_argument(
        "--mirror", action="append", default=[],
        help=f"extra source tried first (URL or folder of the .gz files); also ${MIRROR_ENV}",
    )
    args = parser.parse_args(argv)
    extra = extra_sources(args.mirror, os.environ)
    params = download_params(load_params())
    files = fetch_verified(extra + params.sources, params.sha256, params.timeout_s)
    for name, data in files.items():
        atomic_write_bytes(RAW_DIR / name, data)
        logging.info("%s: %d bytes, SHA-256 verified", RAW_DIR / name, len(data))


if __name__ == "__main__":
    run_command(main)
