"""Device selection and the device-dependent choices, checked on a CPU-only machine."""

import pytest
import torch

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.training.device import select_device, set_threads
from mnist_pipeline.training.loop import training_layout
from mnist_pipeline.training.optim import make_optimizer
from tests.project import build, train_params


@pytest.mark.parametrize(
    "cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert select_device("auto") == torch.device(expected)
    assert select_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_an_unavailable_device_is_a_clear_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(PipelineError, match=f"device '{name}' was asked for, but .* is not available"):
        select_device(name)


def test_other_devices_keep_the_default_layout_and_optimizer():
    # The meta device stands in for MPS here: no channels-last, no fused step.
    model = build("model_2").to("meta")
    x = torch.empty(4, 1, 28, 28, device="meta")
    same_model, same_x = training_layout(model, x)
    assert same_model.conv2.weight.is_contiguous() and same_x is x
    assert not make_optimizer(model, train_params(lr=0.1)).defaults["fused"]


def test_threads_param_sets_torch_threads():
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        set_threads(0)  # 0 leaves the current setting alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
