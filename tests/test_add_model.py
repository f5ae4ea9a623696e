"""Adding a model exactly as the README says, in a fresh copy of the project: the model file and its
block from docs/models.md's example, the README's one command, then the checks docs/models.md
gives (check, the fast tests of the model, the DVC files and the docs) and one epoch of training."""

import re
import shlex
import sys

import pytest
import yaml

from tests.project import ROOT, clone_project, copy_project, environment, run

FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def commands(lines: str) -> list[list[str]]:
    """Each command line as argv, `python` being this interpreter (the one that has the project's requirements)."""
    return [[sys.executable if word == "python" else word for word in shlex.split(line)]
            for line in lines.splitlines() if line.strip()]


def add_block(params_text: str, block: str) -> str:
    """params.yaml's text with block (indented as a model's) added after the last model of `models:`."""
    lines = params_text.splitlines(keepends=True)
    start = lines.index("models:\n") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].strip() and not lines[i][0].isspace()), len(lines))
    while not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:end] + [block] + lines[end:])


def test_the_readme_and_the_models_page_give_the_steps():
    readme, page = section((ROOT / "README.md").read_text(), "Adding a model"), section(
        (ROOT / "docs/models.md").read_text(), "Adding a model")
    assert re.search(r"^3\. `python -m mnist_pipeline\.sync`", readme, re.M)
    assert "(docs/models.md#adding-a-model)" in readme and "(../README.md#adding-a-model)" in page
    assert [kind for kind, _ in FENCE.findall(page)] == ["python", "yaml", "bash"]
    assert "`models/model_5.py`" in page and FENCE.findall(page)[1][1].startswith("  model_5:\n")


@pytest.mark.slow  # the one command probes every stage's imports; then the fast tests of a model: about 2 minutes
def test_a_model_added_as_the_readme_says_passes_check_the_tests_and_trains(tmp_path, raw_files):
    env = environment(tmp_path)
    root = clone_project(tmp_path / "project", env)
    readme, page = section((root / "README.md").read_text(), "Adding a model"), section(
        (root / "docs/models.md").read_text(), "Adding a model")
    model_file, block, checks = [body for _, body in FENCE.findall(page)]
    name = yaml.safe_load(block).popitem()[0]

    # 1. its file, 2. its block, 3. the README's command
    (root / f"models/{name}.py").write_text(model_file)
    (root / "params.yaml").write_text(add_block((root / "params.yaml").read_text(), block))
    (command,) = re.findall(r"^3\. `([^`]+)`", readme, re.M)
    run(commands(command)[0], root, env)
    assert run(commands(command)[0] + ["--check"], root, env).stdout.strip() == "up to date"

    # the checks docs/models.md gives: check, then the fast tests of the model, the DVC files and the docs
    for argv in commands(checks):
        result = run(argv, root, env, check=False)
        assert result.returncode == 0, f"{shlex.join(argv[1:])}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
        assert "stages.check" not in argv or "warning:" not in result.stderr, result.stderr

    # one epoch of training and the evaluation, on the synthetic data, through the stages `dvc repro` runs
    trained = copy_project(tmp_path / "trained", raw_files, tmp_path / "mirror", models=(name,), source_root=root)
    params = yaml.safe_load((trained / "params.yaml").read_text())
    params["models"][name]["epochs"] = 1
    (trained / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in (["check"], ["download"], ["preprocess"], ["train", name], ["evaluate", name]):
        run([sys.executable, "-m", f"stages.{stage[0]}", *stage[1:]], trained, env)
    assert (trained / f"checkpoints/{name}/best.pt").is_file()
    assert (trained / f"metrics/{name}/eval.json").is_file()
