"""Writes what follows from params.yaml's models and from the code, where DVC cannot derive it itself:

    python -m mnist_pipeline.sync           # write what is out of date
    python -m mnist_pipeline.sync --check   # name what is out of date; exit 1 if anything is

- each stage's code deps in dvc.yaml and crossval/dvc.yaml: the project files it imports (deps.py);
- per model of params.yaml, in the sections DVC cannot iterate over: its `artifacts:` entry and its
  curve in each training-curve plot of dvc.yaml, and its fold chart in crossval/dvc.yaml. A new
  model's lines are the first model's with its name (its artifact's `desc`: the first line of its
  file's docstring); a removed model's go; every other line stays as written;
- docs/models.md's `recipes` block, each model's block of params.yaml, and README.md's `metrics`
  block, what `dvc metrics show` prints (a row per declared file, a new model's empty).

Run it after adding or removing a model, adding a recipe key, or changing which project files a
stage imports. The blocks made from results are `python -m mnist_pipeline.readme`'s, after `dvc repro`.
"""

import argparse
import ast
import re
from pathlib import Path
from typing import Callable

import yaml

from mnist_pipeline.core import paths
from mnist_pipeline.core.catalog import model_files
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import model_names
from mnist_pipeline.core.params_file import load_params

COMMAND = "python -m mnist_pipeline.sync"
PIPELINE, CROSSVAL_PIPELINE = Path("dvc.yaml"), paths.CROSSVAL_DIR / "dvc.yaml"
MODELS_DOC = Path("docs/models.md")
CURVE = re.compile(r"metrics/(\w+)/live/plots/metrics/(\w+)\.tsv:")  # a model's file in a training-curve plot
FOLD_CHART = re.compile(r"- plots/(\w+)\.csv:")  # a model's chart in crossval/dvc.yaml


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _section(lines: list[str], key: str, where: Path) -> tuple[int, int]:
    """The lines of the top-level section `key:` after its key line, trailing blank lines left out."""
    start = next((i + 1 for i, line in enumerate(lines) if line.rstrip() == f"{key}:"), None)
    if start is None:
        raise PipelineError(f"{where}: no top-level `{key}:` section")
    end = next((i for i in range(start, len(lines)) if lines[i].strip() and _indent(lines[i]) == 0), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return start, end


def _items(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """The lines before the first item, and the items: each from a line at the items' indent to the next."""
    starts = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    indent = min(map(_indent, starts), default=0)
    head, items = [], []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#") and _indent(line) == indent:
            items.append([line])
        else:
            (items[-1] if items else head).append(line)
    return head, items


def _renamed(lines: list[str], old: str, new: str) -> list[str]:
    return [re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, line) for line in lines]


def _follow(items: list[list[str]], model_of: Callable, models: list[str], new: Callable) -> list[list[str]]:
    """items, less those of a model not in models, plus new(model) for each model that has none."""
    have = {model_of(item) for item in items}
    kept = [item for item in items if model_of(item) is None or model_of(item) in models]
    return kept + [new(model) for model in models if model not in have]


def _copy_of_first(items: list[list[str]], model_of: Callable, where: str) -> Callable:
    """model -> the first model's item with model's name in it."""
    def copy(model: str) -> list[str]:
        first = next((item for item in items if model_of(item)), None)
        if first is None:
            raise PipelineError(f"{where}: no model's entry to copy for {model}; write one by hand")
        return _renamed(first, model_of(first), model)

    return copy


def _match(pattern: re.Pattern, item: list[str]) -> str | None:
    found = pattern.search(item[0])
    return found.group(1) if found else None


def _curves(lines: list[str], models: list[str]) -> list[str]:
    """The lines of dvc.yaml's `plots:` with each `y:` mapping of per-model files following models:
    per quantity, the models' files in order, a new model's after the others."""
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].strip() != "y:":
            i += 1
            continue
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > _indent(lines[i])):
            end += 1
        groups: dict = {}  # quantity -> its lines; files of no model keep their own places
        for n, line in enumerate(lines[i + 1:end]):
            found = CURVE.search(line)
            groups.setdefault(found.group(2) if found else n, []).append([line])
        model_of = lambda item: _match(CURVE, item)  # noqa: E731
        for quantity, entries in groups.items():
            if isinstance(quantity, str):
                entries = _follow(entries, model_of, models, _copy_of_first(entries, model_of, f"{PIPELINE}: plots"))
            out += [line for entry in entries for line in entry]
        i = end
    return out


def _docstring_line(model: str) -> str:
    """The first line of models/<model>.py's docstring, or the file's name."""
    path = paths.MODELS_DIR / f"{model}.py"
    try:
        doc = (ast.get_docstring(ast.parse(path.read_bytes())) or "").strip()
    except (OSError, SyntaxError, ValueError):
        doc = ""  # check names a broken file; the artifact still gets its entry
    return doc.splitlines()[0].rstrip(".") if doc else f"models/{model}.py"


def _artifact(model: str, indent: int) -> list[str]:
    pad, inner = " " * indent, " " * (indent + 2)
    desc = yaml.safe_dump({"desc": f"{_docstring_line(model)}; best validation-accuracy checkpoint"},
                          width=10**6, allow_unicode=True).strip()
    return [f"{pad}{model}:\n", f"{inner}path: {paths.checkpoint(model).as_posix()}\n", f"{inner}type: model\n",
            f"{inner}{desc}\n"]


def _artifact_model(item: list[str]) -> str | None:
    """The model of an artifact entry whose path is its best checkpoint; None for any other artifact."""
    name = item[0].strip().rstrip(":")
    return name if any(line.split() == ["path:", paths.checkpoint(name).as_posix()] for line in item) else None


def _rewrite_section(text: str, key: str, where: Path, rewrite: Callable) -> str:
    lines = (text if text.endswith("\n") else text + "\n").splitlines(keepends=True)
    start, end = _section(lines, key, where)
    return "".join(lines[:start] + rewrite(lines[start:end]) + lines[end:])


def _items_following(lines: list[str], model_of: Callable, models: list[str], new: Callable) -> list[str]:
    head, items = _items(lines)
    return head + [line for item in _follow(items, model_of, models, new) for line in item]


def pipeline_text(text: str, models: list[str]) -> str:
    """dvc.yaml's text with its artifacts and training curves following models."""
    text = _rewrite_section(text, "plots", PIPELINE, lambda lines: _curves(lines, models))

    def artifacts(lines):
        indent = min((_indent(line) for line in lines if line.strip()), default=2)
        return _items_following(lines, _artifact_model, models, lambda model: _artifact(model, indent))

    return _rewrite_section(text, "artifacts", PIPELINE, artifacts)


def crossval_text(text: str, models: list[str]) -> str:
    """crossval/dvc.yaml's text with a fold chart for each of models."""
    def charts(lines):
        model_of = lambda item: _match(FOLD_CHART, item)  # noqa: E731
        _, items = _items(lines)
        return _items_following(lines, model_of, models, _copy_of_first(items, model_of, f"{CROSSVAL_PIPELINE}: plots"))

    return _rewrite_section(text, "plots", CROSSVAL_PIPELINE, charts)


def recipes_block(params: dict) -> str:
    """Each model's block of params.yaml, one table row per model: what it sets beyond `train`."""
    rows = [f"| `{name}` | {', '.join(f'`{key}: {value}`' for key, value in (block or {}).items()) or '(`train` as it is)'} |"
            for name, block in params["models"].items()]
    return "| model | its block in `params.yaml` (hyperparameters and the `train` keys it overrides) |\n| --- | --- |\n" + "\n".join(rows) + "\n"


def _models(params: dict) -> list[str]:
    names = model_names(params)
    for name in names:
        if name not in model_files():
            raise PipelineError(f"{paths.PARAMS_FILE}: models.{name}: no file models/{name}.py")
    return names


def out_of_date_sections(models: list[str]) -> list[str]:
    """The pipeline files whose per-model sections do not follow models (none where one cannot be
    read): check warns of them."""
    stale = []
    for path, follow in ((PIPELINE, pipeline_text), (CROSSVAL_PIPELINE, crossval_text)):
        try:
            text = path.read_text()
            if follow(text, models) != text:
                stale.append(str(path))
        except (OSError, PipelineError):
            pass
    return stale


def wanted() -> dict[Path, str]:
    """Every file this command writes, as it should be."""
    from mnist_pipeline import deps
    from mnist_pipeline.readme import README, metrics_block, replace_in

    params = load_params()
    models = _models(params)
    texts = deps.updated_pipelines()
    texts[PIPELINE] = pipeline_text(texts[PIPELINE], models)
    texts[CROSSVAL_PIPELINE] = crossval_text(texts[CROSSVAL_PIPELINE], models)
    for path, name, content in ((MODELS_DOC, "recipes", recipes_block(params)), (README, "metrics", metrics_block())):
        try:
            texts[path] = replace_in(path.read_text(), name, content)
        except PipelineError as exc:
            raise PipelineError(f"{path}: {exc}") from None
    return texts


def main(argv: list[str] | None = None) -> None:
    from mnist_pipeline.core.files import atomic_write_bytes
    from mnist_pipeline.core.program import program

    parser = argparse.ArgumentParser(prog=program(), description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="name what is out of date, write nothing; exit 1 if anything is")
    args = parser.parse_args(argv)
    stale = {path: text for path, text in wanted().items() if path.read_text() != text}
    if args.check:
        if stale:
            raise PipelineError(f"{', '.join(map(str, stale))}: out of date with params.yaml's models or the "
                                f"stages' imports; run `{COMMAND}`")
        print("up to date")
        return
    for path, text in stale.items():
        atomic_write_bytes(path, text.encode())
    print(f"rewrote {', '.join(map(str, stale))}" if stale else "up to date")


if __name__ == "__main__":
    from mnist_pipeline.core.command import run_command

    run_command(main)
