import copy
import dataclasses

import pytest
import yaml

from mnist_pipeline.core.catalog import hyperparameter_types, model_files
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import (
    TrainParams,
    download_params,
    evaluate_params,
    load_params,
    model_names,
    model_recipe,
    preprocess_params,
)
from tests.project import project_params


@pytest.fixture(scope="module")
def params():
    return project_params()


def _recipe(params, model="model_2"):
    return model_recipe(params, model, hyperparameter_types(model))


def test_project_params_are_valid(params):
    download_params(params)
    preprocess_params(params)
    evaluate_params(params)
    for model in model_names(params):
        recipe = _recipe(params, model)
        assert set(recipe.hyperparameters) == set(hyperparameter_types(model))


def test_every_model_in_params_has_a_file(params):
    assert set(model_names(params)) <= set(model_files())


def test_model_1_keeps_the_seed_recipe(params):
    """model_1 reproduces the original project: batch 128, 12 epochs, Adam at 1e-3, plateau 0.1/3, no augmentation."""
    train = _recipe(params, "model_1").train
    assert (train.batch_size, train.epochs, train.optimizer, train.lr, train.weight_decay) == (128, 12, "adam", 0.001, 0.0)
    assert (train.schedule, train.lr_factor, train.lr_patience) == ("plateau", 0.1, 3)
    assert (train.augment_rotate, train.augment_translate, train.augment_scale, train.augment_low_res, train.ema,
            train.label_smoothing) == (0, 0, 0, 0, 0, 0)


def test_a_model_block_overrides_only_its_own_recipe(params):
    p = copy.deepcopy(params)
    p["models"]["model_2"]["epochs"] = p["train"]["epochs"] + 1
    assert _recipe(p).train.epochs == p["train"]["epochs"] + 1
    assert _recipe(p, "model_1").train.epochs == p["train"]["epochs"]
    p["train"]["batch_size"] = 64  # a shared change reaches every model that does not override it
    assert _recipe(p, "model_1").train.batch_size == _recipe(p, "model_2").train.batch_size == 64


def test_every_train_key_is_in_params_yaml(params):
    """params.yaml shows the whole recipe: every TrainParams field has its line under `train`, in any order."""
    fields = [f.name for f in dataclasses.fields(TrainParams)]
    assert [key for key in fields if key not in params["train"]] == [], "add these under `train:` in params.yaml"
    assert [key for key in params["train"] if key not in fields] == []


def test_a_key_params_yaml_lacks_is_named_with_where_to_add_it(params, tmp_path, monkeypatch):
    """A field new in TrainParams (or a new keyword of a model's constructor) is missing from
    params.yaml: check says to add it there, not to undo params.yaml (which would keep it missing
    and throw away the user's other edits)."""
    from stages import check as check_stage

    monkeypatch.chdir(tmp_path)
    for edit, says in [
        (lambda p: p["train"].pop("lr"),
         "params.yaml: train.lr: required key is missing (mnist_pipeline/core/params.py declares it: "
         "the learning rate; onecycle's peak, > 0); add `lr: <value>` anywhere under `train:` in params.yaml"),
        (lambda p: p["models"]["model_2"].pop("dropout"),
         "params.yaml: models.model_2.dropout: required key is missing (models/model_2.py's Model takes it: "
         "float); add `dropout: <value>` to the model's block in params.yaml"),
    ]:
        edited = copy.deepcopy(params)
        edit(edited)
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
        with pytest.raises(PipelineError) as error:
            check_stage.main([])
        assert str(error.value) == says + "; nothing was run or deleted", str(error.value)
    shuffled = copy.deepcopy(params)
    shuffled["train"] = dict(reversed(list(shuffled["train"].items())))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(shuffled, sort_keys=False))
    check_stage.main([])  # where a key sits in its section does not matter


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["train"].update(lrr=0.1), r"train\.lrr: unknown key \(allowed: .*lr.*\)"),
        (lambda p: p["train"].update(lr="fast"), r"train\.lr: expected a number, got 'fast'"),
        (lambda p: p["train"].update(lr=-0.1), r"train\.lr: invalid value -0\.1 \(allowed: > 0\)"),
        (lambda p: p["train"].update(epochs=0), r"train\.epochs: invalid value 0 \(allowed: 0 < epochs <= 1000000, e\.g\. 12 or 1\.5\)"),
        (lambda p: p["train"].update(epochs="2"), r"train\.epochs: expected a number, got '2'"),
        (lambda p: p["train"].update(epochs=True), r"train\.epochs: expected a number, got True"),
        (lambda p: p["train"].update(device="tpu"), r"train\.device: invalid value 'tpu' \(allowed: auto\|cpu\|cuda\|mps\)"),
        (lambda p: p["train"].pop("lr"), r"train\.lr: required key is missing"),
        (lambda p: p["models"]["model_2"].update(threads=-1), r"models\.model_2\.threads: invalid value -1 \(allowed: 0 <= threads < 2\^63, 0 = one per core\)"),
        (lambda p: p["models"]["model_2"].update(lr=0), r"models\.model_2\.lr: invalid value 0 \(allowed: > 0\)"),
        (lambda p: p["models"]["model_2"].update(dropuot=0.1), r"models\.model_2\.dropuot: unknown key \(allowed: dropout, batch_size"),
        (lambda p: p["models"]["model_2"].update(dropout="x"), r"models\.model_2\.dropout: expected a number"),
        (lambda p: p["models"]["model_2"].pop("dropout"), r"models\.model_2\.dropout: required key is missing"),
        (lambda p: p["models"].update(model_2=[1]), r"models\.model_2: expected a mapping"),
        (lambda p: p.pop("train"), r"train: missing section"),
    ],
)
def test_bad_train_params_name_the_key(params, edit, message):
    p = copy.deepcopy(params)
    edit(p)
    with pytest.raises(PipelineError, match=message):
        _recipe(p)


def test_unknown_model(params):
    with pytest.raises(PipelineError, match=r"models\.model_9: unknown model \(defined: model_1, model_2"):
        model_recipe(params, "model_9", {})
    with pytest.raises(PipelineError, match=r"unknown model 'model_9' \(available: model_1, model_2"):
        hyperparameter_types("model_9")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["download"]["sha256"].update({"t10k-labels-idx1-ubyte": "abc"}), "expected 64 lowercase hex"),
        (lambda p: p["download"]["sha256"].pop("t10k-labels-idx1-ubyte"), r"sha256\.t10k-labels-idx1-ubyte: required"),
        (lambda p: p["download"].update(sources=[]), r"download\.sources: invalid value \[\]"),
        (lambda p: p["download"].update(timeout_s=0), r"download\.timeout_s: invalid value 0"),
        (lambda p: p["download"].pop("timeout_s"), r"download\.timeout_s: required key is missing"),
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
    path.write_text("train:\n  lr: 0.1\n  epochs: [unclosed\n")
    with pytest.raises(PipelineError, match=r"params.yaml: not valid YAML \(line 4, column 1: "):
        load_params(path)
    with pytest.raises(PipelineError, match="missing.yaml: cannot read params file"):
        load_params(tmp_path / "missing.yaml")


def test_dvc_set_values_round_trip(tmp_path, params):
    """Values as `dvc exp run -S` writes them (YAML 1.2) are read back with the same types."""
    path = tmp_path / "params.yaml"
    edited = copy.deepcopy(params)
    edited["models"]["model_2"]["lr"] = 0.0003
    path.write_text(yaml.safe_dump(edited))
    assert _recipe(load_params(path)).train.lr == 0.0003


def test_a_key_given_twice_is_refused_in_one_line_naming_it_and_its_lines(tmp_path):
    """PyYAML keeps the last of two keys, and DVC then refuses the whole file in many lines."""
    path = tmp_path / "params.yaml"
    path.write_text("models:\n  model_2:\n    lr: 0.01\n    dropout: 0.0\n    lr: 0.02\n")
    with pytest.raises(PipelineError, match=r"params.yaml: line 5: duplicate key 'lr' \(first at line 3\); remove one$"):
        load_params(path)
    path.write_text("train: {lr: 1, lr: 2}\n")
    with pytest.raises(PipelineError, match="line 1: duplicate key 'lr'"):
        load_params(path)


def test_a_params_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes(b"\xff\xfetrain: {}\n")
    with pytest.raises(PipelineError, match=r"params.yaml: not UTF-8 text \(byte 0\)"):
        load_params(path)


def test_each_error_says_what_the_schema_declares(params):
    """The allowed range in a message comes from the field's declaration, written once."""
    from mnist_pipeline.core.schema_errors import allowed

    fields = TrainParams.__pydantic_fields__
    assert allowed(fields["lr"], "lr") == "> 0"
    assert allowed(fields["momentum"], "momentum") == "0 < momentum < 1"
    assert allowed(fields["device"], "device") == "auto|cpu|cuda|mps"
    assert allowed(fields["seed"], "seed") == "0 <= seed < 2^63"
    assert all(field.description for field in fields.values()), "every key says what it means"


@pytest.mark.parametrize("models, message", [(None, r"params\.yaml: models: expected a mapping, got None"),
                                              ({}, r"params\.yaml: models: no model \(allowed: one or more")])
def test_models_that_are_no_models_are_named_as_such(params, models, message):
    """`-S models=null` stops in DVC's matrix (failure-modes.md); `-S models={}` would train nothing."""
    from mnist_pipeline.core.params import model_names

    with pytest.raises(PipelineError, match=message):
        model_names({**params, "models": models})
