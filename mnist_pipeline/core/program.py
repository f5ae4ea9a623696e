"""The name a command's usage line gives it: what the user typed to run it."""

import os
import sys


def program() -> str:
    """`python -m mnist_pipeline.predict` for a module run with `-m` (argparse alone would say
    `__main__.py`, or `deps.py`), else the script's own name (`mnist-predict`)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name.removesuffix('.__main__')}"
    return os.path.basename(sys.argv[0])
