import copy
from pathlib import Path

import pytest
import yaml

import models
from mnist_pipeline.errors import PipelineError
from mnist_pipeline.params import (
    download_params, evaluate_params, load_params, preprocess_params, train_params,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT / "params.yaml")


def _train(params, model="model_2"):
    return train_params(params, model, models.architecture_args(model))


def test_project_params_are_valid_and_seed_recipe(params):
    assert len(download_params(params).sources) >= 1
    assert preprocess_params(params).val_size > 0
    assert evaluate_params(params).batch_size > 0
    for model in params["models"]:
        train, _ = _train(params, model)
        assert (train.batch_size, train.epochs, train.lr_factor, train.lr_patience) == (128, 12, 0.1, 3)
    assert _train(params, "model_2")[1] == {"dropout": 0.2}


def test_every_model_block_lists_every_train_key(params):
    """`dvc exp run -S models.<name>.<key>=...` only sets keys that already exist."""
    from dataclasses import fields

    from mnist_pipeline.params import TrainParams

    for name, block in params["models"].items():
        assert set(f.name for f in fields(TrainParams)) <= set(block), name
        assert set(block) - set(f.name for f in fields(TrainParams)) == set(models.architecture_args(name))


def test_model_block_overrides_shared_train_keys(params):
    p = copy.deepcopy(params)
    p["models"]["model_2"]["lr"] = 0.003
    p["models"]["model_2"]["epochs"] = 3
    train, kwargs = _train(p)
    assert (train.lr, train.epochs, train.batch_size) == (0.003, 3, 128)
    assert _train(p, "model_1")[0].lr == params["train"]["lr"]
    p["train"]["batch_size"] = 64  # a shared change reaches every model that does not override it
    assert _train(p, "model_1")[0].batch_size == _train(p, "model_2")[0].batch_size == 64


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["train"].update(lrr=0.1), r"train\.lrr: unknown key \(allowed: .*lr.*\)"),
        (lambda p: p["train"].update(lr="fast"), r"train\.lr: expected a number, got 'fast'"),
        (lambda p: p["train"].update(lr=-0.1), r"train\.lr: invalid value -0\.1 \(allowed: > 0\)"),
        (lambda p: p["train"].update(epochs=0), r"train\.epochs: invalid value 0 \(allowed: >= 1\)"),
        (lambda p: p["train"].update(epochs=2.5), r"train\.epochs: expected an integer"),
        (lambda p: p["train"].update(epochs=True), r"train\.epochs: expected an integer"),
        (lambda p: p["train"].update(device="tpu"), r"train\.device: invalid value 'tpu' \(allowed: auto\|cpu\|cuda\|mps\)"),
        (lambda p: p["train"].pop("lr"), r"train\.lr: required key is missing"),
        (lambda p: p["models"]["model_2"].update(threads=-1), r"models\.model_2\.threads: invalid value -1 \(allowed: >= 0"),
        (lambda p: p["models"]["model_2"].update(lr=0), r"models\.model_2\.lr: invalid value 0\.0 \(allowed: > 0\)"),
        (lambda p: p["models"]["model_2"].update(dropuot=0.1), r"models\.model_2\.dropuot: unknown key \(allowed: .*dropout"),
        (lambda p: p["models"]["model_2"].update(dropout="x"), r"models\.model_2\.dropout: expected a number"),
        (lambda p: p.pop("train"), r"train: missing section"),
    ],
)
def test_bad_train_params_name_the_key(params, edit, message):
    p = copy.deepcopy(params)
    edit(p)
    with pytest.raises(PipelineError, match=message):
        _train(p)


def test_unknown_model(params):
    with pytest.raises(PipelineError, match=r"models\.model_9: unknown model \(defined: model_1, model_2\)"):
        train_params(params, "model_9", {})
    with pytest.raises(PipelineError, match=r"unknown model 'model_9' \(available: model_1, model_2\)"):
        models.architecture_args("model_9")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["download"]["sha256"].update({"t10k-labels-idx1-ubyte": "abc"}), "expected 64 lowercase hex"),
        (lambda p: p["download"]["sha256"].pop("t10k-labels-idx1-ubyte"), r"sha256\.t10k-labels-idx1-ubyte: required"),
        (lambda p: p["download"].update(sources=[]), r"download\.sources: invalid value \[\]"),
        (lambda p: p["download"].update(timeout_s=0), r"download\.timeout_s: invalid value 0"),
    ],
)
def test_bad_download_params(params, edit, message):
    p = copy.deepcopy(params)
    edit(p)
    with pytest.raises(PipelineError, match=message):
        download_params(p)


def test_yaml_1_2_floats_and_file_errors(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: {lr: 1e-3}\n")
    assert load_params(path)["train"]["lr"] == 0.001
    path.write_text("train: [unclosed\n")
    with pytest.raises(PipelineError, match="params.yaml: not valid YAML"):
        load_params(path)
    with pytest.raises(PipelineError, match="missing.yaml: cannot read params file"):
        load_params(tmp_path / "missing.yaml")


def test_dvc_set_values_round_trip(tmp_path, params):
    """Values as `dvc exp run -S` writes them (YAML 1.2) are read back with the same types."""
    path = tmp_path / "params.yaml"
    edited = copy.deepcopy(params)
    edited["models"]["model_2"]["lr"] = 0.0003
    path.write_text(yaml.safe_dump(edited))
    assert _train(load_params(path))[0].lr == 0.0003
