"""pyproject.toml's build backend: setuptools', once it has refused a Python older than requires-python.

pip checks a project's Requires-Python only after it has fetched every pinned package, so on Python
3.10 it downloaded torch (555 MB) and then named numpy, not Python. The project itself (`-e .`)
it builds first, wherever the line stands, and this module is what that build imports: it says
which Python is needed in one line, having downloaded only setuptools. No tomllib here: 3.10 has none.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from setuptools.build_meta import *  # noqa: F401,F403 (the hooks pip calls)


def refusal(version: tuple, pyproject: str) -> str | None:
    """The line refusing `version` (sys.version_info) if pyproject's `requires-python = ">=X.Y"` excludes it."""
    needed = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)"', pyproject, re.M)
    if needed and tuple(version[:2]) < tuple(map(int, needed.groups())):
        return (f"error: mnist-dvc-pipeline needs Python {'.'.join(needed.groups())} or newer (pyproject.toml's "
                f"requires-python), and this is Python {'.'.join(map(str, version[:3]))}; nothing was installed")
    return None


_refused = refusal(sys.version_info, (Path(__file__).parent / "pyproject.toml").read_text())
if _refused:
    sys.exit(_refused)
