import pytest
import torch

import models
from mnist_pipeline.errors import PipelineError


@pytest.mark.parametrize("name, expected", [("model_1", 26_698), ("model_2", 15_106)])
def test_parameter_counts_match_the_seed(name, expected):
    assert models.count_parameters(models.build_model(name)) == expected


@pytest.mark.parametrize("name", ["model_1", "model_2"])
def test_forward_gives_ten_logits(name):
    assert models.build_model(name)(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_summary_reports_parameter_count():
    text = models.summary(models.build_model("model_2"))
    assert "Total params: 15,106" in text and "Conv2d" in text


def test_registry_lists_model_files_and_their_hyperparameters():
    assert models.model_names() == ["model_1", "model_2"]
    assert models.architecture_args("model_1") == {}
    assert models.architecture_args("model_2") == {"dropout": 0.2}
    assert models.build_model("model_2", dropout=0.5).dropout.p == 0.5


@pytest.mark.parametrize("name", ["model_3", "../stages/train", "__init__"])
def test_unknown_names_are_refused(name):
    with pytest.raises(PipelineError, match="unknown model"):
        models.build_model(name)


def test_bad_hyperparameter_value():
    with pytest.raises(PipelineError, match="model 'model_2': bad hyperparameters"):
        models.build_model("model_2", dropout=1.5)
