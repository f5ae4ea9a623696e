import pytest
import torch

from mnist_pipeline.core.catalog import hyperparameter_types, model_files
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import model_names
from mnist_pipeline.evaluation.scoring import score
from mnist_pipeline.training.architectures import build_model, count_parameters, summary
from tests.project import build, project_params

MODELS = model_names(project_params())


@pytest.mark.parametrize("name, expected", [("model_1", 26_698), ("model_2", 15_106)])
def test_seed_models_have_the_seed_parameter_counts(name, expected):
    assert count_parameters(build(name)) == expected


def test_model_3_stays_within_its_parameter_budget():
    assert count_parameters(build("model_3")) <= 8_000


@pytest.mark.parametrize("name", MODELS)
def test_scoring_runs_in_eval_mode_and_leaves_the_model_as_it_was(name):
    model = build(name).to(memory_format=torch.channels_last)  # training mode, as the loop has it
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(6, 1, 28, 28), torch.arange(6)
    _, _, together = score(model, x, y)
    alone = torch.cat([score(model, x[i : i + 1], y[i : i + 1])[2] for i in range(6)])
    assert torch.equal(together, alone)  # no batch statistics, no dropout
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", MODELS)
def test_forward_gives_ten_logits_in_both_layouts(name):
    model = build(name).eval()
    x = torch.randn(5, 1, 28, 28)
    logits = model(x)
    assert logits.shape == (5, 10)
    fast = model.to(memory_format=torch.channels_last)
    assert torch.allclose(fast(x.contiguous(memory_format=torch.channels_last)), logits, atol=1e-5)


def test_summary_reports_parameter_count():
    model = build("model_2")
    text = summary(model)
    assert f"Total params: {count_parameters(model):,}" in text and "Conv2d" in text


def test_summary_leaves_the_random_state_alone():
    torch.manual_seed(0)
    summary(build("model_2"))
    after = torch.rand(1)
    torch.manual_seed(0)
    build("model_2")
    assert torch.equal(torch.rand(1), after)


def test_hyperparameters_come_from_the_constructor():
    assert hyperparameter_types("model_1") == {}
    assert hyperparameter_types("model_2") == {"dropout": float}
    assert build_model("model_2", dropout=0.5).dropout.p == 0.5
    assert set(MODELS) <= set(model_files())


@pytest.mark.parametrize("name", ["model_9", "../stages/train", "__init__"])
def test_unknown_names_are_refused(name):
    with pytest.raises(PipelineError, match="unknown model"):
        build_model(name)


def test_bad_hyperparameter_value():
    with pytest.raises(PipelineError, match="model 'model_2': bad hyperparameters"):
        build_model("model_2", dropout=1.5)
    with pytest.raises(PipelineError, match="model 'model_2': bad hyperparameters"):
        build_model("model_2")


def test_hyperparameters_are_read_from_source_without_importing_it(tmp_path, monkeypatch):
    from mnist_pipeline.core import paths

    monkeypatch.setattr(paths, "MODELS_DIR", tmp_path)
    (tmp_path / "model_x.py").write_text(
        "import does_not_exist\nclass Net:\n    def __init__(self, width: int, p: float, *, act: str):\n        pass\nModel = Net\n"
    )
    assert hyperparameter_types("model_x") == {"width": int, "p": float, "act": str}
    (tmp_path / "model_y.py").write_text("class Model:\n    def __init__(self, width):\n        pass\n")
    with pytest.raises(PipelineError, match="model_y.py: hyperparameter 'width' needs a type annotation"):
        hyperparameter_types("model_y")
    (tmp_path / "model_z.py").write_text("x = 1\n")
    with pytest.raises(PipelineError, match="model_z.py: defines no class `Model`"):
        hyperparameter_types("model_z")
