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


@pytest.mark.slow
@pytest.mark.parametrize("module", ["stages.train", "stages.evaluate", "mnist_pipeline.predict", "benchmarks.speed"])
def test_openmp_threads_wait_as_the_project_says_unless_the_environment_says_otherwise(module):
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    from mnist_pipeline import THREAD_WAIT
    from tests.project import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    show = f"import {module}, os; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    # -X importtime lists modules in the order they finish loading: the wait must be set before torch loads.
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", show], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=True)
    assert result.stdout.split() == [THREAD_WAIT.get("OMP_WAIT_POLICY", "None"), THREAD_WAIT.get("GOMP_SPINCOUNT", "None")]
    ships_libgomp = any((Path(importlib.util.find_spec("torch").origin).parent / "lib").glob("libgomp*"))
    assert THREAD_WAIT == ({"GOMP_SPINCOUNT": "10000"} if ships_libgomp else {"OMP_WAIT_POLICY": "PASSIVE"})
    loaded = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    assert loaded.index("mnist_pipeline") < loaded.index("torch")
    if module != "stages.train":  # one entry point for what follows: the setting is the package's, not the module's
        return
    for users in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}):  # a user's own setting is kept, alone
        kept = subprocess.run([sys.executable, "-c", show], cwd=ROOT, env={**env, **users}, capture_output=True,
                              text=True, check=True)
        assert kept.stdout.split() == [users.get("OMP_WAIT_POLICY", "None"), users.get("GOMP_SPINCOUNT", "None")]
