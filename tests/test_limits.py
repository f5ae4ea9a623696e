"""Every refusal a stage can make from params alone is made by `check` first, before DVC deletes
the stage's outputs (issue: values that passed check and then cost the user their checkpoints)."""

import copy
import re
import sys
from pathlib import Path

import pytest
import torch
import yaml

from mnist_pipeline.core import limits
from mnist_pipeline.core.catalog import hyperparameter_limits, hyperparameter_types, model_files
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import SECTIONS, model_recipe
from mnist_pipeline.data.folds import assign_folds
from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.data.splits import split_train_val
from mnist_pipeline.training.architectures import build_model, model_class
from mnist_pipeline.training.device import select_device
from mnist_pipeline.training.optim import make_scheduler
from mnist_pipeline.training.steps import steps_per_epoch
from stages import check as check_stage
from tests.project import ROOT, copy_project, environment, run


@pytest.fixture
def project(tmp_path, raw_files, monkeypatch):
    """A project copy with the synthetic data (600 training images, 60 a class) in data/raw."""
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    (root / "data/raw").mkdir(parents=True)
    for name, content in raw_files.items():
        (root / "data/raw" / name).write_bytes(content)
    monkeypatch.chdir(root)
    return yaml.safe_load((root / "params.yaml").read_text())


def _train_images(raw_files):
    return decode_idx(raw_files["train-images-idx3-ubyte"], "x", 3), decode_idx(raw_files["train-labels-idx1-ubyte"], "y", 1)


def _scheduler(params, model):
    recipe = model_recipe(params, model, hyperparameter_types(model)).train
    steps = steps_per_epoch(600 - params["preprocess"]["val_size"], recipe.batch_size)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=recipe.lr)
    make_scheduler(optimizer, recipe, steps)


# rule in core/limits.py, or the schema's that needs a model file -> (edit of params.yaml, what the stage
# runs on it, what check must say)
CASES = {
    "require_val_size": (
        lambda p: p["preprocess"].update(val_size=600),
        lambda p, raw: split_train_val(*_train_images(raw), p["preprocess"]["val_size"], 0),
        "preprocess.val_size: invalid value 600 (allowed: 1..599",
    ),
    "require_warmup": (
        lambda p: p["models"]["model_4"].update(batch_size=60_000),
        lambda p, raw: _scheduler(p, "model_4"),
        "models.model_4: onecycle's warmup 0.25 of 2 steps (2 epochs of 1 batch of 60000)",
    ),
    "require_folds": (
        lambda p: p["crossval"].update(folds=list(range(1, 62))),
        lambda p, raw: assign_folds(torch.from_numpy(_train_images(raw)[1].astype("int64")), 61, 0),
        "crossval.folds: 61 folds, but a class has only 60 training images",
    ),
    "a model's LIMITS": (
        lambda p: p["models"]["model_2"].update(dropout=1.5),
        lambda p, raw: build_model("model_2", dropout=1.5),
        "models.model_2.dropout: invalid value 1.5 (allowed: 0.0 <= dropout < 1.0",
    ),
    "require_device": (
        lambda p: p["train"].update(device="mps"),
        lambda p, raw: select_device("mps"),
        "train.device: invalid value 'mps'",
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_check_refuses_first_what_the_stage_would_refuse(project, raw_files, rule):
    edit, stage, message = CASES[rule]
    params = copy.deepcopy(project)
    edit(params)
    with pytest.raises(PipelineError):
        stage(params, raw_files)
    with pytest.raises(PipelineError, match=re.escape(message)):
        check_stage.check(params)


def test_every_rule_has_a_case():
    """A new rule in core/limits.py needs its case above: that is what keeps check ahead of the stages."""
    rules = {name for name in vars(limits) if name.startswith("require_")}
    assert rules == {name for name in CASES if name.startswith("require_")}


def test_refusals_of_params_live_where_check_runs_them():
    """No stage, data or training module refuses a params value on its own: such a refusal belongs
    in core/limits.py (run by check). The two listed here are not about params' values."""
    allowed = {"mnist_pipeline/training/session.py": "changed while it trained",  # params edited mid-run
               "stages/crossval/fold.py": "not one of"}  # the fold on the command line
    layers = ("mnist_pipeline/data", "mnist_pipeline/evaluation", "mnist_pipeline/training", "stages")
    for path in [path for layer in layers for path in ROOT.glob(f"{layer}/**/*.py")]:
        relative = path.relative_to(ROOT).as_posix()
        if relative == "stages/check.py":
            continue
        for raise_ in re.findall(r"raise PipelineError\((.*?)\)\s*(?:from|\n)", path.read_text(), re.S):
            if "PARAMS_FILE" in raise_ or "params.yaml" in raise_:
                assert relative in allowed and allowed[relative] in raise_, f"{relative}: {raise_[:80]}"


@pytest.mark.parametrize("model", model_files())
def test_check_refuses_every_hyperparameter_value_the_constructor_refuses(project, model):
    """Each value check lets through builds the model: LIMITS in the model's file is where it says what
    its constructor cannot take (a negative width, a dropout of 1.5), and the constructor need not
    refuse anything itself. Built on torch's meta device: a huge width costs no memory."""
    types = hyperparameter_types(model)
    for key, kind in types.items():
        for value in {float: [-1.0, -0.01, 0.0, 0.5, 1.0, 1.5, 100.0], int: [-1, 0, 1, 10**6]}.get(kind, []):
            hyperparameters = {**_defaults(project, model), key: value}
            params = copy.deepcopy(project)
            params["models"][model] = {**(params["models"].get(model) or {}), key: value}
            try:
                check_stage.check(params)
            except PipelineError:
                continue  # refused before any stage runs
            try:
                with torch.device("meta"):
                    model_class(model)(**hyperparameters)
            except Exception as exc:  # noqa: BLE001 (torch's own refusals are RuntimeErrors)
                pytest.fail(f"models/{model}.py: check accepts {key}={value!r}, but Model({key}={value!r}) fails "
                            f"({type(exc).__name__}: {exc}); give its range in the file's LIMITS")
    assert set(hyperparameter_limits(model)) <= set(types)


def _defaults(params, model):
    return model_recipe(params, model, hyperparameter_types(model)).hyperparameters if model in params["models"] else {}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_is_refused_by_check_where_torch_would_refuse_it(project):
    with pytest.raises(PipelineError):
        select_device("cuda")
    for where, edit in (("train", lambda p: p["train"].update(device="cuda")),
                        ("evaluate", lambda p: p["evaluate"].update(device="cuda"))):
        params = copy.deepcopy(project)
        edit(params)
        with pytest.raises(PipelineError, match=f"{where}.device: invalid value 'cuda'"):
            check_stage.check(params)
    assert not limits.cuda_present()


def test_legal_but_likely_mistaken_values_are_warned_of(project):
    params = copy.deepcopy(project)
    params["train"]["batch_size"] = 60_000
    params["models"]["model_2"]["batch_size"] = 32  # onecycle now: a warm-up needs more than one step
    params["models"]["model_3"].update(batch_size=256, warmup=0.9)  # 2 epochs of 2 steps of the 500 images
    warnings = check_stage.check(params)
    assert any("models.model_1: batch_size 60,000 is more than the 500 training images" in w for w in warnings)
    assert any("models.model_3: onecycle warms up over only 3 steps" in w for w in warnings), warnings



def test_bfloat16_is_warned_of_where_the_cpu_emulates_it(project, tmp_path, monkeypatch):
    from mnist_pipeline.core import machine

    params = copy.deepcopy(project)
    params["models"]["model_4"]["precision"] = "bfloat16"
    for flags, warned in (("fpu avx512f avx512_bf16", False), ("fpu avx2", True), ("", False)):
        (tmp_path / "cpuinfo").write_text(f"processor\t: 0\nflags\t\t: {flags}\n" if flags else "processor\t: 0\n")
        monkeypatch.setattr(machine, "CPUINFO", tmp_path / "cpuinfo")
        found = [w for w in check_stage.check(params) if "precision" in w]
        assert found == (["params.yaml: models.model_4.precision: bfloat16 is emulated on this CPU (no AVX512-BF16 or "
                          "AMX): training is slower than with float32 here"] if warned else []), flags


def test_the_committed_params_pass_check_without_a_warning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/raw: check uses the canonical files' class counts
    assert check_stage.check(yaml.safe_load((ROOT / "params.yaml").read_text())) == []


def test_check_warns_once_of_a_removed_models_outputs_and_says_how_to_remove_them(project, tmp_path):
    root = Path.cwd()
    for path in ("checkpoints/model_9/best.pt", "metrics/model_9/eval.json", "metrics/summary/model_9.json",
                 "metrics/scores/model_9.json", "metrics/timing/model_9.json", "metrics/summary/model_1.json",
                 "metrics/scores/model_1.json"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("{}")
    stages = {"stages": {"train@model_9": {"cmd": "x"}, "train@model_1": {"cmd": "y"}, "evaluate@model_9": {"cmd": "z"}}}
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", **stages}))
    (warning,) = [w for w in check_stage.check(project) if "no longer in" in w]
    assert warning.startswith("models.model_9: no longer in params.yaml, but its outputs remain (")
    assert "checkpoints/model_9" in warning and "dvc.lock: train@model_9" in warning
    assert "`python -m mnist_pipeline.leftovers --remove`" in warning

    result = run([sys.executable, "-m", "mnist_pipeline.leftovers", "--remove"], root, environment(tmp_path))
    assert "removed the outputs of model_9" in result.stdout
    assert not (root / "checkpoints/model_9").exists() and not (root / "metrics/model_9").exists()
    assert (root / "metrics/summary/model_1.json").exists() and (root / "metrics/scores/model_1.json").exists()
    assert not (root / "metrics/scores/model_9.json").exists()
    assert list(yaml.safe_load((root / "dvc.lock").read_text())["stages"]) == ["train@model_1"]
    assert not [w for w in check_stage.check(project) if "no longer in" in w]


def test_check_needs_no_torch(project, tmp_path):
    code = "import sys, stages.check as c; c.main([]); print('torch' in sys.modules)"
    result = run([sys.executable, "-c", code], Path.cwd(), environment(tmp_path))
    assert result.stdout.strip().endswith("False")


def _past_range(field) -> list[int]:
    """The first integers either side of an integer field's declared range."""
    from annotated_types import Ge, Gt, Le, Lt

    values = []
    for bound in field.metadata:
        values += [bound.ge - 1] if isinstance(bound, Ge) else [bound.gt] if isinstance(bound, Gt) else []
        values += [bound.lt] if isinstance(bound, Lt) else [bound.le + 1] if isinstance(bound, Le) else []
    return values


INTEGER_KEYS = [(name, key, field) for name, section in SECTIONS.items() if section
                for key, field in section.__pydantic_fields__.items() if field.annotation is int]


@pytest.mark.parametrize("section, key, field", INTEGER_KEYS, ids=[f"{s}.{k}" for s, k, _ in INTEGER_KEYS])
def test_check_refuses_the_first_integer_past_each_keys_range(project, section, key, field):
    """torch reads seeds and counts as signed 64-bit: a seed of 2^64 passed check, then failed
    preprocess with a traceback after DVC had deleted its outputs."""
    values = _past_range(field)
    assert len(values) == 2, f"{section}.{key}: an integer key needs both bounds"
    assert max(values) <= 2**63
    for value in values:
        params = copy.deepcopy(project)
        params[section][key] = value
        with pytest.raises(PipelineError, match=re.escape(f"{section}.{key}: invalid value {value}")):
            check_stage.check(params)


def test_a_seed_past_int64_is_refused_in_a_models_block_too(project):
    params = copy.deepcopy(project)
    params["models"]["model_4"]["seed"] = 2**64
    with pytest.raises(PipelineError, match=r"models\.model_4\.seed: invalid value 18446744073709551616 "
                                            r"\(allowed: 0 <= seed < 2\^63\)"):
        check_stage.check(params)
    assert {"preprocess.seed", "train.seed", "crossval.seed"} <= {f"{s}.{k}" for s, k, _ in INTEGER_KEYS}


def test_more_threads_than_cores_is_a_warning_and_training_uses_the_cores(project):
    """One committed params.yaml is valid on every machine: a teammate's `threads: 8` on a 2-core laptop."""
    import os

    from mnist_pipeline.training.device import set_threads

    params = copy.deepcopy(project)
    params["train"]["threads"] = (os.cpu_count() or 1) + 1
    (warning,) = [w for w in check_stage.check(params) if "threads" in w]
    assert warning.startswith(f"params.yaml: train.threads: {params['train']['threads']} is more than this machine's")
    before = torch.get_num_threads()
    try:
        set_threads(10_000)
        assert torch.get_num_threads() <= (os.cpu_count() or 1)
    finally:
        torch.set_num_threads(before)


BROKEN_MODELS = {
    "a syntax error": (b"class Model(:\n", "models/model_5.py: not valid Python (line 1"),
    "bytes that are not UTF-8": (b"\xff\xfe class Model: pass\n", "models/model_5.py: not valid Python"),
    "malformed LIMITS": (b'LIMITS = {"width": ("a", None)}\nclass Model:\n    def __init__(self, width: int): ...\n',
                         "models/model_5.py: LIMITS must be a literal {name: (low, high)} of numbers"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MODELS))
def test_a_broken_model_file_is_one_line_naming_it(project, tmp_path, monkeypatch, case):
    import shutil

    from mnist_pipeline.core import paths

    source, message = BROKEN_MODELS[case]
    models = shutil.copytree(paths.MODELS_DIR, tmp_path / "copy" / "models",
                             ignore=shutil.ignore_patterns("__pycache__"))
    (models / "model_5.py").write_bytes(source)
    monkeypatch.setattr(paths, "MODELS_DIR", models)
    params = copy.deepcopy(project)
    params["models"]["model_5"] = {"width": 3} if "LIMITS" in case else {}
    with pytest.raises(PipelineError) as error:
        check_stage.check(params)
    assert message in str(error.value).replace(str(tmp_path / "copy") + "/", "") and "\n" not in str(error.value)
