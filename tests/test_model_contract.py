"""A model file whose forward pass fails or answers in the wrong shape is reported as the model's
fault in one line, before training, and the check changes nothing training computes."""

import sys

import pytest
import torch
from torch import nn

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.training.session import check_forward
from tests.project import copy_project, environment, run


class Raises(nn.Module):
    def forward(self, x):
        raise ValueError("no such layer")


class FiveClasses(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 5)

    def forward(self, x):
        return self.linear(x.flatten(1))


class TupleInTraining(FiveClasses):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x):
        logits = super().forward(x)
        return (logits, logits) if self.training else logits


class Good(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 16), nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 10))

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("model, says", [
    (Raises(), "Model's forward failed on an input of shape [2, 1, 28, 28] in training mode (ValueError: no such layer)"),
    (FiveClasses(), "Model's forward returned a tensor of shape [2, 5] (float32) for an input of shape [2, 1, 28, 28]"),
    (TupleInTraining(), "Model's forward returned a tuple of length 2 for an input of shape [2, 1, 28, 28] in training mode"),
])
def test_a_broken_forward_is_the_models_fault_in_one_line(model, says):
    with pytest.raises(PipelineError) as error:
        check_forward("model_9", model)
    message = str(error.value)
    assert message.startswith("models/model_9.py: ") and says in message, message
    assert message.endswith("a model must return logits of shape [batch, 10] (here [2, 10])") and "\n" not in message


def test_the_check_leaves_the_model_and_the_random_state_as_they_were():
    torch.manual_seed(0)
    model = Good().train()
    weights = {k: v.clone() for k, v in model.state_dict().items()}  # BatchNorm's running stats among them
    rng = torch.get_rng_state()
    check_forward("model_9", model)
    assert model.training and torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_the_train_stage_names_the_model_file_in_one_line(tmp_path, raw_files):
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror")
    env = environment(tmp_path)
    for stage in ("download", "preprocess"):
        run([sys.executable, "-m", f"stages.{stage}"], root, env)
    source = root / "models/model_4.py"
    source.write_text(source.read_text().replace("return self.classifier(self.features(x))",
                                                 "return self.classifier(self.features(x))[:, :5]"))
    result = run([sys.executable, "-m", "stages.train", "model_4"], root, env, check=False)
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "error: models/model_4.py: Model's forward returned a tensor of shape [2, 5] (float32) for an input of "
        "shape [2, 1, 28, 28] in training mode; a model must return logits of shape [batch, 10] (here [2, 10])"]
