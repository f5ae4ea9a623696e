"""Interrupted training resumes from its last completed epoch with byte-identical results."""

import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

import models
from mnist_pipeline.device import make_deterministic
from mnist_pipeline.io import torch_bytes
from mnist_pipeline.params import TrainParams
from mnist_pipeline.resume import ResumeState
from mnist_pipeline.training import fit
from tests.project import copy_project, environment, run
from tests.synthetic import make_raw


PARAMS = TrainParams(batch_size=32, epochs=4, lr=0.003, seed=3)


class Crash(Exception):
    pass


def _fit(data, resume=None, crash_at=None):
    make_deterministic(PARAMS.seed)
    model = models.build_model("model_2")
    best = []

    def log(text):
        if crash_at and text.startswith(f"Epoch: {crash_at}/"):
            raise Crash

    result = fit(model, *data, PARAMS, on_best=lambda s, state: best.append((s.epoch, torch_bytes(state))), log=log, resume=resume)
    return model, result, best


def test_resumed_fit_equals_an_uninterrupted_one(tmp_path, data):
    model, result, best = _fit(data)
    state = ResumeState(tmp_path / "state.pt", "run-a")
    with pytest.raises(Crash):
        _fit(data, resume=state, crash_at=3)  # epochs 1 and 2 completed and saved
    assert torch.load(state.path, weights_only=True)["epoch"] == 2

    # A fresh process would start from new RNG state: disturb it to prove it is restored.
    torch.manual_seed(12345)
    resumed, again, resumed_best = _fit(data, resume=state)
    assert torch_bytes(resumed.state_dict()) == torch_bytes(model.state_dict())
    assert again.history == result.history and again.best_epoch == result.best_epoch
    assert resumed_best[-1] == best[-1]  # the best checkpoint is rewritten identically
    assert not state.path.exists()


def test_state_of_another_run_is_ignored(tmp_path, data):
    with pytest.raises(Crash):
        _fit(data, resume=ResumeState(tmp_path / "state.pt", "run-a"), crash_at=2)
    other = ResumeState(tmp_path / "state.pt", "run-b")
    _, result, best = _fit(data, resume=other)
    assert [s.epoch for s in result.history] == [1, 2, 3, 4] and best[0][0] == 1
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert ResumeState(tmp_path / "junk.pt", "run-a").load() is None


def _project(base, raw):
    root = copy_project(base / "project", raw, base / "mirror")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"].update(epochs=3, batch_size=8)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = environment(base)
    for stage in ("download", "preprocess"):
        run([sys.executable, "-m", f"stages.{stage}"], root, env)
    return root, env


OUTPUTS = ["checkpoints/model_1/best.pt", "checkpoints/model_1/last.pt", "metrics/model_1/train.json", "metrics/model_1/history.csv"]


def test_sigkilled_training_resumes_to_identical_outputs(tmp_path):
    raw = make_raw(n_train=3000, n_test=100, seed=1)
    reference, env = _project(tmp_path / "a", raw)
    run([sys.executable, "-m", "stages.train", "model_1"], reference, env)

    root, env = _project(tmp_path / "b", raw)
    state = root / ".resume" / "model_1.pt"
    process = subprocess.Popen(
        [sys.executable, "-m", "stages.train", "model_1"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "training finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (root / "checkpoints/model_1/last.pt").exists()

    resumed = run([sys.executable, "-m", "stages.train", "model_1"], root, env)
    assert "resuming after epoch" in resumed.stderr
    for path in OUTPUTS:
        assert (root / path).read_bytes() == (reference / path).read_bytes(), path
    assert not state.exists()
