"""The stage entry points run as DVC runs them, and fail with one clear line."""

import json
import sys

import pytest
import yaml

from tests.project import copy_project, environment, run

pytestmark = pytest.mark.slow  # runs real stage processes

STAGES = ["download", "preprocess", "train model_1", "evaluate model_1"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, raw_files):
    base = tmp_path_factory.mktemp("stages")
    return copy_project(base / "project", raw_files, base / "mirror"), environment(base)


def _stage(project, command, check=True):
    root, env = project
    return run([sys.executable, "-m", *f"stages.{command}".split()], root, env, check=check)


def test_stages_in_order_write_their_outputs(project):
    root, _ = project
    outputs = [_stage(project, command) for command in STAGES]
    assert "SHA-256 verified" in outputs[0].stderr
    assert "Epoch: 2/2" in outputs[2].stdout and "Total params: 26,698" in outputs[2].stdout
    assert {p.name for p in (root / "checkpoints/model_1").iterdir()} == {"best.pt", "last.pt"}
    assert not (root / ".resume/model_1.pt").exists()  # removed once the outputs are written
    metrics = json.loads((root / "metrics/model_1/eval.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_loss"] > 0
    train = json.loads((root / "metrics/model_1/train.json").read_text())
    assert train["parameters"] == 26_698 and train["epochs_run"] == 2
    from mnist_pipeline.core.machine import cpu
    from mnist_pipeline.core.machine import usable_cpus
    assert train["machine"] == {**cpu(), "cpus": usable_cpus(), "kernels": train["machine"]["kernels"],
                                "torch": train["machine"]["torch"], "threads": train["machine"]["threads"]}
    assert train["machine"]["threads"] >= 1 and train["machine"]["torch"].startswith("2.")
    assert sorted(p.name for p in root.rglob("*.tmp")) == []


def _error_line(result, log_lines_before=False):
    """The single `error: ...` line that ends stderr (only warnings may come before it)."""
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and sum(line.startswith("error: ") for line in lines) == 1
    assert log_lines_before or len(lines) == 1
    return lines[-1]


def test_unknown_model_is_one_line(project):
    line = _error_line(_stage(project, "train model_9", check=False))
    assert "models.model_9: unknown model (defined: model_1, model_2" in line


def test_bad_param_is_one_line_and_names_the_key(project):
    root, _ = project
    original = (root / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["train"]["lr"] = "fast"
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        line = _error_line(_stage(project, "train model_2", check=False))
    finally:
        (root / "params.yaml").write_text(original)
    assert "params.yaml: train.lr: expected a number, got 'fast'" in line


def test_failed_download_leaves_nothing_behind(tmp_path, raw_files):
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["download"]["sha256"]["train-images-idx3-ubyte"] = "0" * 64
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = run([sys.executable, "-m", "stages.download"], root, environment(tmp_path), check=False)
    line = _error_line(result, log_lines_before=True)
    assert "could not get a verified copy of train-images-idx3-ubyte" in line
    assert not (root / "data/raw").exists()


def test_missing_checkpoint_is_one_line(project):
    line = _error_line(_stage(project, "evaluate model_2", check=False))
    assert "checkpoints/model_2/best.pt: checkpoint not found" in line


def test_corrupt_raw_data_fails_preprocess_without_partial_outputs(tmp_path, raw_files):
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    env = environment(tmp_path)
    run([sys.executable, "-m", "stages.download"], root, env)
    labels = root / "data/raw/t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-3])
    line = _error_line(run([sys.executable, "-m", "stages.preprocess"], root, env, check=False))
    assert "t10k-labels-idx1-ubyte: truncated" in line
    assert not (root / "data/prepared").exists()


def test_evaluate_refuses_a_model_name_that_is_a_path(project):
    root, _ = project
    line = _error_line(_stage(project, "evaluate ../../x", check=False))
    assert "unknown model '../../x'" in line
    assert not (root.parent.parent / "x").exists() and not (root / "metrics/summary/../../x.json").exists()


def test_a_diverging_run_is_one_line_and_writes_nothing(tmp_path, raw_files):
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    env = environment(tmp_path)
    for stage in ("download", "preprocess"):
        run([sys.executable, "-m", f"stages.{stage}"], root, env)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["models"]["model_1"] = {"lr": 1e9}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = run([sys.executable, "-m", "stages.train", "model_1"], root, env, check=False)
    assert "training diverged in epoch 1" in _error_line(result, log_lines_before=True)
    assert "the learning rate 1e+09 is likely too high" in result.stderr  # what was set, not what onecycle reached
    assert not (root / "checkpoints/model_1").exists()
    assert not [f for f in (root / "metrics/model_1").rglob("*") if f.is_file()]  # not even an epoch's log


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p.update(trian={"lr": 1}), "params.yaml: trian: unknown section (allowed: download, preprocess"),
        (lambda p: p["models"].update(model_9={"lr": 0.1}), "params.yaml: models.model_9: no file models/model_9.py"),
        (lambda p: p["train"].update(epochs="abc"), "params.yaml: train.epochs: expected a number, got 'abc'"),
        (lambda p: p["preprocess"].update(val_size=0), "params.yaml: preprocess.val_size: invalid value 0"),
    ],
)
def test_check_stage_refuses_bad_params_in_one_line_that_says_how_to_undo(tmp_path, raw_files, edit, message):
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    params = yaml.safe_load((root / "params.yaml").read_text())
    edit(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = run([sys.executable, "-m", "stages.check"], root, environment(tmp_path), check=False)
    line = _error_line(result)
    assert message in line and "git checkout HEAD -- params.yaml" in line
    assert not (root / "data/params-checked").exists()


@pytest.mark.parametrize(
    "model_file, params_text, message",
    [
        (b"class Model(:\n", None, "models/model_5.py: not valid Python (line 1"),
        (b"\xff\xfe class Model: pass\n", None, "models/model_5.py: not valid Python"),
        (b'LIMITS = {"width": ("a", None)}\nclass Model:\n    def __init__(self, width: int): ...\n', None,
         "models/model_5.py: LIMITS must be a literal"),
        (None, "models:\n  model_1: {}\n  model_1: {}\n", "params.yaml: line 3: duplicate key 'model_1' (first at line 2)"),
    ],
    ids=["syntax-error", "not-utf8", "malformed-limits", "duplicate-key"],
)
def test_check_stage_names_a_broken_model_file_or_a_duplicate_key_in_one_line(tmp_path, raw_files, model_file,
                                                                               params_text, message):
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    if model_file is not None:
        (root / "models/model_5.py").write_bytes(model_file)
        params = yaml.safe_load((root / "params.yaml").read_text())
        params["models"]["model_5"] = {}
        (root / "params.yaml").write_text(yaml.safe_dump(params))
    else:
        (root / "params.yaml").write_text(params_text)
    result = run([sys.executable, "-m", "stages.check"], root, environment(tmp_path), check=False)
    assert message in _error_line(result)


def test_check_stage_output_does_not_depend_on_the_values(tmp_path, raw_files):
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    env = environment(tmp_path)
    run([sys.executable, "-m", "stages.check"], root, env)
    first = (root / "data/params-checked").read_bytes()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["lr"] = params["train"]["lr"] * 2
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run([sys.executable, "-m", "stages.check"], root, env)
    assert (root / "data/params-checked").read_bytes() == first


def test_a_prepared_split_that_is_not_tensors_is_one_line(tmp_path):
    import pickle

    from mnist_pipeline.core.errors import PipelineError
    from mnist_pipeline.data.splits import load_split

    path = tmp_path / "train.pt"
    path.write_bytes(pickle.dumps({"images": PipelineError("a pickled object, not a tensor")}))
    with pytest.raises(PipelineError) as error:
        load_split(path)
    assert "train.pt: not a prepared split" in str(error.value) and "\n" not in str(error.value)


def test_params_that_change_while_a_model_trains_fail_the_stage_and_write_nothing(tmp_path, raw_files, monkeypatch):
    import stages.train

    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    env = environment(tmp_path)
    for stage in ("download", "preprocess"):
        run([sys.executable, "-m", f"stages.{stage}"], root, env)
    monkeypatch.chdir(root)
    trained_with = yaml.safe_load((root / "params.yaml").read_text())
    on_disk_later = yaml.safe_load((root / "params.yaml").read_text())
    on_disk_later["train"]["epochs"] = 1  # as a refused `dvc exp run -S train.epochs=1` left it
    reads = iter([trained_with, on_disk_later])
    monkeypatch.setattr(stages.train, "load_params", lambda: next(reads))
    from mnist_pipeline.core.errors import PipelineError

    with pytest.raises(PipelineError, match="the recipe of models.model_1 changed while it trained; nothing was written"):
        stages.train.main(["model_1"])
    assert not (root / "checkpoints/model_1").exists() and not (root / "metrics/model_1/train.json").exists()


def test_the_epochs_trained_are_the_fraction_asked_for_unless_training_stopped_early():
    from stages.train import epochs_trained
    from mnist_pipeline.training.loop import Run

    def run(epochs: int, stopped: bool = False) -> Run:
        return Run(history=[None] * epochs, stopped_early=stopped)

    assert epochs_trained(run(2), 1.1) == 1.1 and epochs_trained(run(12), 12.0) == 12
    assert isinstance(epochs_trained(run(12), 12.0), int)  # 12, not 12.0, in train.json and the report
    assert epochs_trained(run(5, stopped=True), 12.0) == 5
