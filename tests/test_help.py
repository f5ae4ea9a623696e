"""Every command of the project answers --help as its user typed it, and does nothing else.

The commands are found, not listed: each module of mnist_pipeline/ and stages/ that runs as
`python -m` (a `__main__` guard, or a package's __main__.py), and the `mnist-predict` script.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.project import ROOT, clone_project, environment

# The console script as pip writes it: argv[0] its own path, no module spec.
SCRIPT = "import sys; sys.argv[0] = '/usr/bin/mnist-predict'; from mnist_pipeline.predict import cli; cli()"


def commands() -> dict[str, list[str]]:
    """What a user types -> the argv that runs it."""
    found = {}
    for package in ("mnist_pipeline", "stages"):
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            if path.name == "__main__.py":
                module = module.removesuffix(".__main__")
            elif not re.search(r"^if __name__ == .__main__.:", path.read_text(), re.M):
                continue
            found[f"python -m {module}"] = [sys.executable, "-m", module]
    found["mnist-predict"] = [sys.executable, "-c", SCRIPT]
    return found


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts}


def test_the_commands_are_found():
    found = commands()
    assert {"python -m mnist_pipeline.predict", "python -m mnist_pipeline.readme", "python -m mnist_pipeline.sync",
            "python -m mnist_pipeline.leftovers", "python -m stages.train", "python -m stages.crossval.folds",
            "mnist-predict"} <= set(found)
    assert not any(name.endswith("__main__") or name.endswith("__init__") for name in found)


@pytest.mark.slow  # a fresh interpreter per command, torch imported in most: about 15 s on 2 cores
def test_every_command_answers_help_naming_itself_and_changes_no_file(tmp_path):
    env = environment(tmp_path)
    root = clone_project(tmp_path / "project", env)
    before = _files(root)
    running = {typed: subprocess.Popen(argv + ["--help"], cwd=root, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True) for typed, argv in commands().items()}
    wrong = []
    for typed, process in running.items():
        out, err = process.communicate(timeout=300)
        if process.returncode != 0:
            wrong.append(f"{typed} --help: exit {process.returncode}: {err[-300:]}")
        elif not out.startswith(f"usage: {typed} "):
            wrong.append(f"{typed} --help: {out.splitlines()[:1]}")
    after = _files(root)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    assert wrong + [f"changed by --help: {', '.join(changed)}"] * bool(changed) == []
