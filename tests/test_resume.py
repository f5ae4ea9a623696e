"""Interrupted training resumes from its last completed epoch with byte-identical results."""

import dataclasses
import sys

import pytest
import torch
import yaml

from mnist_pipeline.core.files import torch_bytes
from mnist_pipeline.core.paths import EPOCH_METRICS
from mnist_pipeline.training.device import make_deterministic
from mnist_pipeline.training.loop import fit
from mnist_pipeline.training.resume import ResumeState
from tests.project import (
    ROOT,
    build,
    copy_project,
    environment,
    kill_once_saved,
    run,
    train_params,
)
from tests.synthetic import make_raw

PARAMS = train_params(batch_size=32, epochs=3, lr=0.003, seed=3)
# Every stateful option at once (the weight average apart): augmentation draws, a per-step schedule, AdamW's moments and
# BatchNorm's running statistics. model_2 has the original project's dropout: its masks are the global CPU generator's draws.
RECIPES = {
    "seed-recipe": ("model_2", PARAMS),
    "augmented-onecycle-batchnorm": ("model_3", dataclasses.replace(
        PARAMS, optimizer="adamw", schedule="onecycle", label_smoothing=0.1,
        augment_rotate=10, augment_translate=0.1, augment_scale=0.1, augment_low_res=0.5,
    )),
    "sgd-cosine": ("model_3", dataclasses.replace(PARAMS, optimizer="sgd", lr=0.05, schedule="cosine")),
    "weight-average": ("model_3", dataclasses.replace(PARAMS, schedule="onecycle", ema=0.9)),
    "fractional-last-epoch": ("model_4", dataclasses.replace(PARAMS, epochs=3.5, schedule="onecycle", label_smoothing=0.1)),
    "bfloat16": ("model_4", dataclasses.replace(PARAMS, epochs=3.5, schedule="onecycle", precision="bfloat16")),
    "muon": ("model_4", dataclasses.replace(PARAMS, optimizer="muon", muon_lr=0.02, schedule="onecycle", weight_decay=1e-4)),
}

HYPERPARAMETERS = {"model_2": {"dropout": 0.2}}


class Crash(Exception):
    pass


@pytest.fixture(scope="module")
def few(data):
    """200 of the 500 training images: exact resume does not depend on how many, and 7 steps an
    epoch keep this module's round trips quick."""
    train_x, train_y, val_x, val_y = data
    return train_x[:200], train_y[:200], val_x, val_y


def _fit(data, resume=None, crash_at=None, recipe="seed-recipe"):
    name, params = RECIPES[recipe]
    make_deterministic(params.seed)
    model = build(name, **HYPERPARAMETERS.get(name, {}))

    def log(text):
        if crash_at and text.startswith(f"Epoch: {crash_at}/"):
            raise Crash

    return model, fit(model, *data, params, log=log, resume=resume)


@pytest.mark.slow  # over 2 s on 2 idle cores: the fast tier stays under a minute
@pytest.mark.parametrize("recipe", RECIPES)
def test_resumed_fit_equals_an_uninterrupted_one(tmp_path, few, recipe):
    model, run = _fit(few, recipe=recipe)
    state = ResumeState(tmp_path / "state.pt", "run-a")
    with pytest.raises(Crash):
        _fit(few, resume=state, crash_at=3, recipe=recipe)  # epochs 1 and 2 completed and saved
    assert len(torch.load(state.path, weights_only=True)["run"]["history"]) == 2

    # A fresh process would start from new RNG state: disturb it to prove it is restored.
    torch.manual_seed(12345)
    resumed, again = _fit(few, resume=state, recipe=recipe)
    assert torch_bytes(resumed.state_dict()) == torch_bytes(model.state_dict())
    assert again.history == run.history and again.best == run.best
    assert torch_bytes(again.best_state) == torch_bytes(run.best_state)

    # Killed after the last epoch but before the outputs were written: nothing is trained again.
    finished, replayed = _fit(few, resume=state, crash_at=1, recipe=recipe)
    assert replayed.history == run.history and torch_bytes(finished.state_dict()) == torch_bytes(model.state_dict())


def test_state_of_another_run_is_ignored(tmp_path, few):
    with pytest.raises(Crash):
        _fit(few, resume=ResumeState(tmp_path / "state.pt", "run-a"), crash_at=2)
    other = ResumeState(tmp_path / "state.pt", "run-b")
    _, run = _fit(few, resume=other)
    assert [s.epoch for s in run.history] == [1, 2, 3]
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


OUTPUTS = ["checkpoints/model_1/best.pt", "checkpoints/model_1/last.pt", "metrics/model_1/train.json"]
# Written after every epoch, so a running experiment can be watched; a resumed run replays the saved epochs.
LIVE = ["metrics/model_1/live/metrics.json", *(f"metrics/model_1/live/plots/metrics/{q}.tsv" for q in EPOCH_METRICS)]


@pytest.mark.slow
def test_sigkilled_training_resumes_to_identical_outputs(tmp_path):
    raw = make_raw(n_train=1500, n_test=100, seed=1)
    reference, env = _project(tmp_path / "a", raw)
    run([sys.executable, "-m", "stages.train", "model_1"], reference, env)

    root, env = _project(tmp_path / "b", raw)
    state = root / ".resume" / "model_1.pt"
    kill_once_saved([sys.executable, "-m", "stages.train", "model_1"], root, env, state)
    for path in OUTPUTS:  # outputs are written only by a run that completes
        assert not (root / path).exists(), path

    resumed = run([sys.executable, "-m", "stages.train", "model_1"], root, env)
    assert "resuming after epoch" in resumed.stderr
    for path in OUTPUTS + LIVE:
        assert (root / path).read_bytes() == (reference / path).read_bytes(), path
    assert not state.exists()


def test_the_fingerprint_covers_the_code_that_runs(tmp_path):
    import models.model_2  # noqa: F401  (loaded, as the train stage loads its model)
    from mnist_pipeline.training.resume import fingerprint, project_code

    code = project_code(ROOT)
    assert ROOT / "models" / "model_2.py" in code and ROOT / "mnist_pipeline" / "training" / "loop.py" in code
    assert all("site-packages" not in path.parts for path in code)
    copy = tmp_path / "model_2.py"
    copy.write_bytes((ROOT / "models" / "model_2.py").read_bytes())
    before = fingerprint({"a": 1}, [copy])
    copy.write_text(copy.read_text().replace("F.relu", "F.leaky_relu"))
    assert fingerprint({"a": 1}, [copy]) != before
