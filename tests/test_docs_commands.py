"""The README's and docs' commands, run as written on a temporary project with a baseline and two
experiments: every `dvc exp show`, `dvc exp diff` and `dvc metrics` command of their code blocks fits
a 120-column terminal with every column it selects shown whole, and every `mnist-predict` command
that names a picture in examples/ reads it.

The commands are read from the pages, so a page cannot drift from what was run. The project has
model_4 (the one the commands name) and model_1, each trained for one epoch on the synthetic mirror:
with two models, DVC names each metric's column by its file too, as in the real project. The
committed cross-validation is made current for their tiny params, so their scores have every column
a user's have.
"""

import json
import re
import shlex
import shutil
import sys

import pytest
import yaml

from mnist_pipeline.readme import block
from tests.project import ROOT, copy_project, environment, init_repo, run

needs_dvc = pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is not installed")

WIDTH = 120
PAGES = ("README.md", *sorted(str(page.relative_to(ROOT)) for page in (ROOT / "docs").glob("*.md")))
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
TABLES = (("dvc", "exp", "show"), ("dvc", "exp", "diff"), ("dvc", "metrics"))
MODEL, OTHER = "model_4", "model_1"
# The second experiment: a point of docs/experiments.md's sweep (the README's block makes the first).
SWEEP_POINT = ["dvc", "exp", "run", "-n", "m4-lr-0.01", "-S", "models.model_4.lr=0.01", "-S", "++models.model_4.threads=1"]


def quoted(text: str) -> list[list[str]]:
    """Each command line of the text's fenced code blocks (a shell prompt `$ ` and comments dropped)."""
    commands = []
    for body in FENCE.findall(text):
        for line in body.splitlines():
            line = line.strip().removeprefix("$ ")
            try:
                words = shlex.split(line, comments=True)
            except ValueError:  # a line of output, not a command
                continue
            if words:
                commands.append(words)
    return commands


def documented(*programs: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """(page, command) for each command of the pages that starts with one of the programs, once each."""
    found, seen = [], set()
    for page in PAGES:
        for words in quoted((ROOT / page).read_text()):
            if any(tuple(words[:len(p)]) == p for p in programs) and tuple(words) not in seen:
                seen.add(tuple(words))
                found.append((page, words))
    return found


def test_commands_are_read_from_every_fenced_block():
    text = "a\n```bash\ndvc exp show --drop 'a|b/'   # why\n```\n\n```\n$ dvc metrics show\nPath  x\n```\n"
    assert quoted(text) == [["dvc", "exp", "show", "--drop", "a|b/"], ["dvc", "metrics", "show"], ["Path", "x"]]
    pages = {page for page, _ in documented(*TABLES)}
    assert {"README.md", "docs/experiments.md"} <= pages
    assert any(words[:2] == ["mnist-predict", "examples/seven.png"] for _, words in documented(("mnist-predict",)))


def test_every_picture_a_documented_predict_command_names_is_shipped():
    pictures = [(page, word) for page, words in documented(("mnist-predict",)) for word in words
                if word.lower().endswith((".png", ".jpg", ".jpeg"))]
    assert pictures
    assert [(page, word) for page, word in pictures if not word.startswith("examples/") or not (ROOT / word).is_file()] == []


def alternatives(pattern: str) -> list[str]:
    """The top-level `|` alternatives of a regular expression (those inside brackets stay whole)."""
    parts, depth, current = [], 0, ""
    for char in pattern:
        depth += char in "([" and 1 or char in ")]" and -1 or 0
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def test_alternatives_split_only_at_the_top_level():
    assert alternatives("Experiment|models.lr|m.json:(best|test)") == ["Experiment", "models.lr", "m.json:(best|test)"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_files):
    base = tmp_path_factory.mktemp("docs-commands")
    root = copy_project(base / "project", raw_files, base / "mirror", (OTHER, MODEL))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["epochs"] = params["models"][MODEL]["epochs"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    from mnist_pipeline.core.params import load_params
    from mnist_pipeline.evaluation.crossval import params_digest

    summary = json.loads((root / "crossval/summary.json").read_text())
    for model in (OTHER, MODEL):
        summary[model]["params_digest"] = params_digest(load_params(root / "params.yaml"), model)
    (root / "crossval/summary.json").write_text(json.dumps(summary, indent=2))
    shutil.copytree(ROOT / "examples", root / "examples")
    env = environment(base)
    init_repo(root, env)
    run(["dvc", "repro"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "baseline"], root, env)
    assert "cv_accuracy" in json.loads((root / f"metrics/scores/{MODEL}.json").read_text())
    readme_runs = [w for w in quoted(block((ROOT / "README.md").read_text(), "expshow")) if w[:3] == ["dvc", "exp", "run"]]
    assert readme_runs, "the README's expshow block runs no experiment"
    for words in [*readme_runs, SWEEP_POINT]:
        run(words, root, env)
    run(["git", "checkout", "--", "."], root, env)  # the sweep point ran in the workspace
    run(["dvc", "checkout", "--force"], root, env)
    return root, env


@pytest.mark.slow
@needs_dvc
def test_every_predict_command_on_examples_reads_its_pictures(project):
    """README's and docs/predict.md's `mnist-predict` commands on the shipped pictures, as written (the
    model only tiny-trained, so the digits it reads are not checked: that each picture gives an
    answer, and the number two digits, is)."""
    root, env = project
    commands = [(page, words) for page, words in documented(("mnist-predict",))
                if any(word.startswith("examples/") for word in words)]
    assert commands
    for page, words in commands:
        pictures = [word for word in words if word.startswith("examples/")]
        result = run([sys.executable, "-m", "mnist_pipeline.predict", *words[1:]], root, env, check=False)
        assert result.returncode == 0, f"{page}: {shlex.join(words)}\n{result.stderr}"
        if "--json" in words:
            answers = {answer["input"]: answer for answer in json.loads(result.stdout)}
        else:
            answers = {line.split(": ")[0]: line for line in result.stdout.splitlines()}
        assert sorted(answers) == sorted(pictures), f"{page}: {shlex.join(words)}\n{result.stdout}"
        for picture, answer in answers.items():
            if "number" in picture:
                digits = answer["digits"] if isinstance(answer, dict) else answer.split(" (", 1)[1].split(", ")
                assert len(digits) == 2, f"{page}: {picture} is not read as a two-digit number: {answer}"


def _columns(words: list[str], root, env) -> list[str]:
    """The columns a `dvc exp show` command selects, from its CSV (the row's rev and kind are merged
    into the Experiment column on a terminal)."""
    header = run([*words, "--csv"], root, env).stdout.splitlines()[0]
    return [name for name in header.split(",") if name not in ("rev", "typ", "parent")]


def _names(words: list[str], root, env) -> list[str]:
    """Every file, metric and param a `dvc metrics` or `dvc exp diff` command's table lists, from its JSON."""
    shown = json.loads(run([*words, "--json"], root, env).stdout or "{}")
    if words[:3] == ["dvc", "metrics", "show"]:  # {revision: {"data": {file: {"data": {metric: value}}}}}
        groups = [{path: values["data"] for path, values in next(iter(shown.values()))["data"].items()}]
    elif words[:3] == ["dvc", "metrics", "diff"]:  # {file: {metric: change}}
        groups = [shown]
    else:  # dvc exp diff: {"params" or "metrics": {file: {name: change}}}
        groups = list(shown.values())
    return [name for group in groups for path, values in group.items() for name in (path, *values)]


@pytest.mark.slow
@needs_dvc
def test_every_documented_table_fits_120_columns_and_shows_its_columns(project):
    root, env = project
    run(["dvc", "exp", "apply", "m4-lr-0.01"], root, env)  # so that `dvc metrics diff` has a change to show
    try:
        commands = documented(*TABLES)
        assert commands
        for page, words in commands:
            command = shlex.join(words)
            result = run(words, root, {**env, "COLUMNS": str(WIDTH)})
            table = result.stdout
            wide = [line for line in table.splitlines() if len(line) > WIDTH]
            assert table.strip() and not wide, f"{page}: `{command}` is wider than {WIDTH} columns:\n{table}"
            assert "…" not in table, f"{page}: `{command}` collapses a column at {WIDTH} columns:\n{table}"
            if words[:3] == ["dvc", "exp", "show"]:
                columns = _columns(words, root, env)
                missing = [name for name in columns if name not in table]
                assert not missing, f"{page}: `{command}` does not show {missing} whole:\n{table}"
                if "--keep" in words:
                    for part in alternatives(words[words.index("--keep") + 1]):
                        assert any(re.match(part, name) for name in columns), f"{page}: `{command}`: no column for {part!r}"
                if "--sort-by" in words:
                    assert words[words.index("--sort-by") + 1] in columns, f"{page}: `{command}` sorts by a column it hides"
                if "--only-changed" in words:  # the experiments changed model_4's learning rate
                    assert f"models.{MODEL}.lr" in columns, f"{page}: `{command}` hides the param that changed"
            else:
                names = _names(words, root, env)
                assert names and all(name in table for name in names), f"{page}: `{command}` does not list {names}:\n{table}"
    finally:
        run(["git", "checkout", "--", "."], root, env)
        run(["dvc", "checkout", "--force"], root, env)
