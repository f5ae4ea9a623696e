"""dvc.yaml declares exactly the code each stage runs and the params it reads."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import models
from mnist_pipeline.params import load_params

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]

# What each stage's code reads from params.yaml.
PARAMS_READ = {
    "download": ["download"],
    "preprocess": ["preprocess"],
    "train": ["train", "models.${item.model}"],
    "evaluate": ["evaluate"],
    "report": None,
}

IMPORTS = """
import importlib, json, os, sys
root = os.getcwd()
importlib.import_module(sys.argv[1])
if sys.argv[2]:
    import models
    models.model_class(sys.argv[2])
paths = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
files = {os.path.relpath(p, root) for p in paths
         if os.path.isabs(p) and p.startswith(root + os.sep)  # project files, not a venv inside it
         and not {"site-packages", "dist-packages"} & set(p.split(os.sep))}
print(json.dumps(sorted(files)))
"""


def _module_and_model(stage: dict, model: str) -> tuple[str, str]:
    match = re.fullmatch(r"python -m (stages\.\w+)( \$\{item\.model\})?( [\w ]+)?", stage["cmd"])
    assert match, f"unexpected cmd {stage['cmd']!r}"
    return match.group(1), model if match.group(2) else ""


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_exactly_the_imported_project_files(name):
    stage = STAGES[name]
    model = "model_1"
    module, item = _module_and_model(stage, model)
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS, module, item], cwd=ROOT, capture_output=True, text=True, check=True
    )
    imported = set(json.loads(result.stdout))
    declared = {d.replace("${item.model}", model) for d in stage["deps"] if d.endswith(".py")}
    assert declared == imported


@pytest.mark.parametrize("name", sorted(STAGES))
def test_params_deps_are_exactly_what_the_stage_reads(name):
    assert STAGES[name].get("params") == PARAMS_READ[name]


def test_matrix_models_match_params_and_model_files():
    params = load_params(ROOT / "params.yaml")
    for name in ("train", "evaluate"):
        assert STAGES[name]["matrix"]["model"] == list(params["models"]) == models.model_names()
    assert sorted(DVC_YAML["artifacts"]) == models.model_names()
    report = STAGES["report"]
    assert report["cmd"].split()[3:] == list(params["models"])
    assert [d for d in report["deps"] if d.startswith("metrics/")] == [
        f"metrics/{model}/{name}.json" for model in params["models"] for name in ("train", "eval", "timing")
    ]
    for name, artifact in DVC_YAML["artifacts"].items():
        assert artifact["type"] == "model"
        assert artifact["path"] == f"checkpoints/{name}/best.pt"


def test_train_never_sees_the_test_set():
    assert "data/prepared/test.pt" not in STAGES["train"]["deps"]
    assert "data/prepared/test.pt" in STAGES["evaluate"]["deps"]


def test_readme_results_are_the_pipelines_report():
    from mnist_pipeline.readme import block

    assert block((ROOT / "README.md").read_text(), "results") == (ROOT / "metrics/report.md").read_text()


def test_readme_blocks_are_replaced_between_their_markers(tmp_path):
    from mnist_pipeline.errors import PipelineError
    from mnist_pipeline.readme import replace_block

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- perf:start -->\nold\n<!-- perf:end -->\nrest\n")
    replace_block(readme, "perf", "new\ntable\n")
    assert readme.read_text() == "intro\n<!-- perf:start -->\nnew\ntable\n<!-- perf:end -->\nrest\n"
    with pytest.raises(PipelineError, match="no `<!-- other:start -->`"):
        replace_block(readme, "other", "x\n")
