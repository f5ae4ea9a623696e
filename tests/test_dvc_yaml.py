"""dvc.yaml declares exactly what each stage runs, reads and writes, and follows params.yaml's models.

The stages run here, in-process on a tiny synthetic project, with params.yaml read through a
recorder: what they touch is compared with what dvc.yaml declares.
"""

from pathlib import Path

import pytest
import yaml

from mnist_pipeline.core.params import model_names
from mnist_pipeline.core.paths import TIMING_DIR
from mnist_pipeline.sync import COMMAND as SYNC
from tests.project import ROOT, copy_project, project_params, stage_imports

DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = DVC_YAML["stages"]
MODELS = model_names(project_params())
PER_MODEL = {name for name, stage in STAGES.items() if "matrix" in stage}


def _commands() -> list[tuple[str, str, list[str]]]:
    """(dvc stage name, stage definition key, argv) in pipeline order, one per model for matrix stages."""
    result = []
    for name, stage in STAGES.items():
        module = stage["cmd"].split()[2]
        for model in MODELS if name in PER_MODEL else [None]:
            result.append((f"{name}@{model}" if model else name, name, [module] + ([model] if model else [])))
    return result


def _declared(stage: dict, key: str, model: str | None) -> set[str]:
    entries = stage.get(key) or []
    paths = {next(iter(e)) if isinstance(e, dict) else e for e in entries}
    return {p.replace("${item.model}", model or "") for p in paths}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_exactly_the_imported_project_files(name):
    stage = STAGES[name]
    model = MODELS[0] if name in PER_MODEL else ""
    declared = {d for d in _declared(stage, "deps", model) if d.endswith(".py")}
    assert declared == stage_imports()[stage["cmd"].split()[2], model]["files"], f"dvc.yaml: {name}: run `{SYNC}`"


def test_per_model_stages_and_sections_follow_params_yaml():
    for name in PER_MODEL:
        assert STAGES[name]["matrix"] == {"model": "${models}"}, name
    assert sorted(DVC_YAML["artifacts"]) == sorted(MODELS), f"dvc.yaml: artifacts: one per model; run `{SYNC}`"
    for artifact_name, artifact in DVC_YAML["artifacts"].items():
        assert artifact["type"] == "model" and artifact["path"] == f"checkpoints/{artifact_name}/best.pt"
    for plot in DVC_YAML["plots"]:
        (title, spec), = plot.items()
        for quantity in {Path(file).stem for file in spec["y"]}:
            expected = sorted(f"metrics/{m}/live/plots/metrics/{quantity}.tsv" for m in MODELS)
            assert sorted(f for f in spec["y"] if Path(f).stem == quantity) == expected, f"dvc.yaml: plots: {title}: run `{SYNC}`"


SECTIONS = """stages:
  train:
    matrix:
      model: ${models}
plots:
  # curves
  - loss:
      template: by_model
      y:
        metrics/model_1/live/plots/metrics/train_loss.tsv: train_loss  # the first
        metrics/model_2/live/plots/metrics/train_loss.tsv: train_loss
        metrics/model_1/live/plots/metrics/val_loss.tsv: val_loss
        metrics/model_2/live/plots/metrics/val_loss.tsv: val_loss
  - other.csv:
      x: step

artifacts:
  model_1:
    path: checkpoints/model_1/best.pt
    type: model
    desc: Hand-written
  data:
    path: data/raw
  model_2:
    path: checkpoints/model_2/best.pt
    type: model
"""


def test_sync_adds_a_new_models_lines_after_the_others_and_drops_a_removed_ones(tmp_path, monkeypatch):
    """`python -m mnist_pipeline.sync` writes the per-model lines DVC cannot iterate: a new model's are
    the first model's with its name, a removed model's go, every other line stays as written."""
    from mnist_pipeline.core import paths
    from mnist_pipeline.sync import crossval_text, pipeline_text

    monkeypatch.setattr(paths, "MODELS_DIR", tmp_path)
    (tmp_path / "model_10.py").write_text('"""Model_10: tiny, for a test."""\n')
    text = pipeline_text(SECTIONS, ["model_1", "model_10"])
    assert text == SECTIONS.replace(
        "        metrics/model_2/live/plots/metrics/train_loss.tsv: train_loss\n",
        "        metrics/model_10/live/plots/metrics/train_loss.tsv: train_loss  # the first\n").replace(
        "        metrics/model_2/live/plots/metrics/val_loss.tsv: val_loss\n",
        "        metrics/model_10/live/plots/metrics/val_loss.tsv: val_loss\n").replace(
        "  model_2:\n    path: checkpoints/model_2/best.pt\n    type: model\n",
        "  model_10:\n    path: checkpoints/model_10/best.pt\n    type: model\n"
        "    desc: 'Model_10: tiny, for a test; best validation-accuracy checkpoint'\n")
    assert yaml.safe_load(text)["artifacts"]["model_10"]["desc"].startswith("Model_10: tiny")
    assert pipeline_text(text, ["model_1", "model_10"]) == text
    charts = "plots:\n  - plots/model_1.csv:\n      title: 'model_1: folds'\n\n# after\n"
    assert crossval_text(charts, ["model_1", "model_10"]) == charts.replace(
        "\n\n", "\n  - plots/model_10.csv:\n      title: 'model_10: folds'\n\n")
    assert crossval_text(charts, []) == "plots:\n\n# after\n"


def test_check_warns_of_a_model_without_its_sections_naming_the_command(tmp_path, raw_files, monkeypatch):
    from stages.check import check

    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror", models=("model_1",))
    monkeypatch.chdir(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert not [w for w in check(params) if SYNC in w]
    params["models"]["model_2"] = {"dropout": 0.0}
    assert [w for w in check(params) if SYNC in w] == [
        "dvc.yaml, crossval/dvc.yaml: the artifacts, training curves or fold charts do not follow params.yaml's "
        "models (DVC cannot iterate there); write them with `python -m mnist_pipeline.sync`"]


def test_sync_names_itself_while_a_file_is_out_of_date(monkeypatch):
    """What the check stage warns of, and every test above names: on this project, nothing."""
    from mnist_pipeline.sync import out_of_date_sections

    monkeypatch.chdir(ROOT)
    assert out_of_date_sections(MODELS) == [], f"run `{SYNC}`"
    assert out_of_date_sections(MODELS + ["model_1x"]) == ["dvc.yaml", "crossval/dvc.yaml"]


def test_train_never_sees_the_test_set():
    assert "data/prepared/test.pt" not in STAGES["train"]["deps"]
    assert "data/prepared/test.pt" in STAGES["evaluate"]["deps"]


class Recorder(dict):
    """A params mapping that notes the dotted path of every value read (`section.*` for a whole mapping)."""

    def __init__(self, data: dict, log: set, prefix: str = ""):
        super().__init__({k: Recorder(v, log, f"{prefix}{k}.") if isinstance(v, dict) else v for k, v in data.items()})
        self.log, self.prefix = log, prefix

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if not isinstance(value, Recorder):  # reaching a mapping reads nothing yet
            self.log.add(self.prefix + str(key))
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __iter__(self):
        self.log.add(self.prefix + "*")
        return super().__iter__()

    def keys(self):
        return list(iter(self))

    def items(self):
        return [(k, self[k]) for k in self.keys()]

    def values(self):
        return [self[k] for k in self.keys()]


def _params_read(log: set) -> list[str]:
    """The fewest dotted keys that cover what was read, as dvc.yaml's `params:` would name them."""
    if "*" in log:  # every top-level key: the whole file
        return ["params.yaml:"]
    keys = {entry.removesuffix(".*") for entry in log}
    return sorted(k for k in keys if not any(k.startswith(other + ".") for other in keys))


def _declared_params(stage: dict, model: str | None) -> list[str]:
    entries = stage.get("params", [])
    names = [f"{next(iter(e))}:" if isinstance(e, dict) else e for e in entries]
    return sorted(name.replace("${item.model}", model or "") for name in names)


def _within(path: str, declared: str) -> bool:
    return path == declared or path.startswith(declared + "/")


def _files(root: Path) -> dict[str, bytes]:
    skip = {".resume"}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not skip & set(p.relative_to(root).parts)
    }


@pytest.mark.slow  # over 2 s on 2 idle cores: the fast tier stays under a minute
def test_each_stage_reads_and_writes_exactly_what_dvc_yaml_declares(tmp_path, raw_files, monkeypatch):
    import importlib

    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    monkeypatch.chdir(root)
    monkeypatch.delenv("MNIST_MIRROR", raising=False)
    params = yaml.safe_load((root / "params.yaml").read_text())
    # Wall time: committed to git, declared nowhere (as an output it would change dvc.lock on every
    # run, as a metric it would widen every DVC table); dvc.yaml's report stage says so.
    undeclared = {TIMING_DIR.as_posix()}
    for stage_name, key, argv in _commands():
        model = argv[1] if len(argv) > 1 else None
        stage = STAGES[key]
        module = importlib.import_module(argv[0])
        log: set = set()
        monkeypatch.setattr(module, "load_params", lambda log=log: Recorder(params, log))
        before = _files(root)
        module.main(argv[1:])
        after = _files(root)
        written = {path for path, data in after.items() if before.get(path) != data}
        declared = set()
        for section in ("outs", "metrics", "plots"):
            declared |= _declared(stage, section, model)
        unhashed = {path for path in written if any(_within(path, m) for m in undeclared)}
        assert {p for p in written - unhashed if not any(_within(p, d) for d in declared)} == set(), stage_name
        assert {d for d in declared if not any(_within(p, d) for p in written)} == set(), stage_name
        assert _params_read(log) == _declared_params(stage, model), stage_name


def test_generated_blocks_are_the_pipelines_reports(monkeypatch):
    """The README's and docs' tables are what the pipeline wrote (`python -m mnist_pipeline.readme`)."""
    from mnist_pipeline.readme import REPORT_BLOCKS, block, metrics_block

    monkeypatch.chdir(ROOT)
    for path, name, report, _ in REPORT_BLOCKS:
        assert block(path.read_text(), name) == report.read_text(), f"{path}: {name}"
    assert block((ROOT / "README.md").read_text(), "metrics") == metrics_block()


def test_readme_blocks_are_replaced_between_their_markers(tmp_path):
    from mnist_pipeline.core.errors import PipelineError
    from mnist_pipeline.readme import replace_block

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- perf:start -->\nold\n<!-- perf:end -->\nrest\n")
    replace_block(readme, "perf", "new\ntable\n")
    assert readme.read_text() == "intro\n<!-- perf:start -->\nnew\ntable\n<!-- perf:end -->\nrest\n"
    with pytest.raises(PipelineError, match="no `<!-- other:start -->`"):
        replace_block(readme, "other", "x\n")


def test_the_deps_writer_changes_only_the_py_lines_of_deps_lists():
    """`python -m mnist_pipeline.deps --write` keeps every comment, other dep and section as written."""
    from mnist_pipeline.deps import rewrite

    text = """# top comment
stages:
  train:
    matrix:
      model: ${models}
    cmd: python -m stages.train ${item.model}
    deps:
      - data/prepared/train.pt  # the split
      - stages/train.py
      - mnist_pipeline/core/gone.py
      - mnist_pipeline/core/params.py  # kept with its comment
      - models/${item.model}.py
    params:
      - train
  other:
    deps:
      - stages/other.py
plots:
  - deps:
      - stages/not_a_stage.py
"""
    wanted = {"train": ["stages/train.py", "mnist_pipeline/core/a_new.py", "mnist_pipeline/core/params.py",
                        "mnist_pipeline/training/steps.py", "models/${item.model}.py"]}
    assert rewrite(text, wanted) == text.replace(
        "      - mnist_pipeline/core/gone.py\n", "      - mnist_pipeline/core/a_new.py\n").replace(
        "  # kept with its comment\n", "  # kept with its comment\n      - mnist_pipeline/training/steps.py\n")
    assert rewrite(text, {}) == text
