"""Keeps each stage's project-file deps in dvc.yaml and crossval/dvc.yaml equal to what the stage imports.

    python -m mnist_pipeline.deps --write   # rewrite the `.py` entries of every stage's deps
    python -m mnist_pipeline.deps --check   # list the stages whose `.py` deps differ; exit 1 if any

(`python -m mnist_pipeline.sync` writes them too, with what follows from params.yaml's models.)

Each stage's module is imported in a fresh interpreter (a matrix stage's with its first model's file,
written back as `models/${item.model}.py`), and the project files it loaded are its code deps: a change
to code a stage imports reruns it, and a change to code no stage imports reruns none. Only the `.py`
lines of `deps:` lists change, each kept in place: other deps, comments and every other line stay as
they are. tests/test_dvc_yaml.py holds the files to the same imports.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.params_file import load_params
from mnist_pipeline.core.program import program

PIPELINES = (Path("dvc.yaml"), Path("crossval/dvc.yaml"))
MODEL_FILE = "models/${item.model}.py"
GROUPS = ("stages/", "mnist_pipeline/", "models/")  # the order entries keep within a deps list

PROBE = """
import importlib, json, os, sys
root = os.getcwd()
importlib.import_module(sys.argv[1])
if sys.argv[2]:
    from mnist_pipeline.training.architectures import model_class
    model_class(sys.argv[2])
paths = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
print(json.dumps(sorted(os.path.relpath(p, root) for p in paths
                        if os.path.isabs(p) and p.startswith(root + os.sep)
                        and not {"site-packages", "dist-packages"} & set(p.split(os.sep)))))
"""


def imported_files(stages: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """(module, model) -> the project files a fresh interpreter imports to run it; all probed at once."""
    probes = {key: subprocess.Popen([sys.executable, "-c", PROBE, *key], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for key in dict.fromkeys(stages)}
    found = {}
    for (module, model), probe in probes.items():
        out, err = probe.communicate(timeout=300)
        if probe.returncode != 0:
            last = (err.strip().splitlines() or ["no output"])[-1]
            raise PipelineError(f"importing {module} failed: {last}")
        files = json.loads(out)
        found[module, model] = [MODEL_FILE if model and f == f"models/{model}.py" else f for f in files]
    return found


def _order(path: str) -> tuple:
    return next((i for i, group in enumerate(GROUPS) if path.startswith(group)), len(GROUPS)), path


def _entry(line: str) -> str | None:
    """The path of a deps item line (`      - path  # comment`), else None."""
    stripped = line.strip()
    if not stripped.startswith("- "):
        return None
    return stripped[2:].split(" #")[0].strip()


def rewrite(text: str, wanted: dict[str, list[str]]) -> str:
    """text with the `.py` items of each named stage's `deps:` list made wanted[stage], each kept
    line in place and each new one after the kept entry it follows in order."""
    lines = text.splitlines(keepends=True)
    stage, in_stages, i = None, False, 0
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        if line.strip() and not line.lstrip().startswith("#"):
            if indent == 0:
                in_stages, stage = line.startswith("stages:"), None
            elif in_stages and indent == 2:
                stage = line.strip().rstrip(":")
        if stage in wanted and line.strip() == "deps:":
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
                end += 1
            lines[i + 1:end] = _rewrite_list(lines[i + 1:end], wanted[stage])
        i += 1
    return "".join(lines)


def _rewrite_list(items: list[str], wanted: list[str]) -> list[str]:
    kept = [line for line in items if not (_entry(line) or "").endswith(".py") or _entry(line) in wanted]
    present = {_entry(line) for line in kept}
    item = next((line for line in items if _entry(line)), "      - x\n")
    prefix = item[:item.index("- ") + 2]
    for path in sorted(set(wanted) - present, key=_order):
        before = [n for n, line in enumerate(kept) if (_entry(line) or "").endswith(".py")
                  and _order(_entry(line)) < _order(path)]
        after_py = [n for n, line in enumerate(kept) if (_entry(line) or "").endswith(".py")]
        at = before[-1] + 1 if before else (after_py[0] if after_py else len(kept) - _trailing_blanks(kept))
        kept.insert(at, f"{prefix}{path}\n")
    return kept


def _trailing_blanks(lines: list[str]) -> int:
    count = 0
    for line in reversed(lines):
        if line.strip():
            break
        count += 1
    return count


def stage_code(pipeline: Path) -> dict[str, tuple[str, str]]:
    """Each stage of pipeline: (its module, the model its matrix imports, or '')."""
    stages = yaml.safe_load(pipeline.read_text())["stages"]
    model = next(iter(load_params()["models"]), "")
    return {name: (stage["cmd"].split()[2], model if "matrix" in stage else "") for name, stage in stages.items()}


def updated_pipelines() -> dict[Path, str]:
    """Each pipeline file's text with every stage's code deps made the files it imports."""
    codes = {pipeline: stage_code(pipeline) for pipeline in PIPELINES}
    files = imported_files([key for stages in codes.values() for key in stages.values()])
    return {pipeline: rewrite(pipeline.read_text(), {name: files[key] for name, key in stages.items()})
            for pipeline, stages in codes.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the deps lists")
    mode.add_argument("--check", action="store_true", help="list stages whose deps differ; exit 1 if any")
    args = parser.parse_args(argv)
    stale = []
    for pipeline, updated in updated_pipelines().items():
        if updated != pipeline.read_text():
            stale.append(str(pipeline))
            if args.write:
                atomic_write_bytes(pipeline, updated.encode())
    if args.check and stale:
        raise PipelineError(f"{', '.join(stale)}: code deps differ from the imports; "
                            "run `python -m mnist_pipeline.deps --write`")
    print(f"{'rewrote' if args.write and stale else 'up to date:'} {', '.join(stale) or ', '.join(map(str, PIPELINES))}")


if __name__ == "__main__":
    run_command(main)
