"""Runs a command's main() and turns expected failures into one line and a non-zero exit."""

import logging
import sys
from typing import Callable

from mnist_pipeline.core.errors import PipelineError


def run_command(main: Callable[[], None]) -> None:
    """Call main(); report a PipelineError as `error: ...` on stderr and exit with status 1."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        main()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
