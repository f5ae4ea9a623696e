import pytest
import torch

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import torch_bytes
from mnist_pipeline.evaluation.scoring import score
from mnist_pipeline.training.checkpoint import (
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from mnist_pipeline.training.device import make_deterministic
from mnist_pipeline.training.loop import (
    fit,
    format_epoch,
    train_epoch,
    training_layout,
)
from mnist_pipeline.training.optim import make_optimizer
from tests.project import build, train_params


def _params(**overrides):
    return train_params(**{"batch_size": 32, "epochs": 2, "lr": 0.003, "seed": 5, **overrides})


def test_training_lowers_the_loss(data):
    x, y, *_ = data
    make_deterministic(0)
    model = build("model_2")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    loss_fn = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        before = loss_fn(model(x), y).item()
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        train_epoch(model, optimizer, x, y, _params(), generator)
    with torch.no_grad():
        after = loss_fn(model.eval()(x), y).item()
    assert after < before * 0.5


def _train(data, params, name="model_1"):
    make_deterministic(params.seed)
    model = build(name)
    return model, fit(model, *data, params, log=lambda s: None)


def test_fit_is_deterministic(data):
    first, result = _train(data, _params())
    second, again = _train(data, _params())
    third, _ = _train(data, _params(seed=6))
    assert torch_bytes(first.state_dict()) == torch_bytes(second.state_dict())
    assert result.history == again.history
    assert torch_bytes(first.state_dict()) != torch_bytes(third.state_dict())


def test_fit_history_and_best_weights(data):
    model, run = _train(data, _params(epochs=3))
    assert [s.epoch for s in run.history] == [1, 2, 3]
    assert run.best.val_accuracy == max(s.val_accuracy for s in run.history)
    assert run.history[-1].val_accuracy > 0.5  # synthetic data is easy
    best = build("model_1")
    best.load_state_dict(run.best_state)
    assert score(best, data[2], data[3])[1] == run.best.val_accuracy


@pytest.mark.slow  # over 2 s on 2 idle cores: the fast tier stays under a minute
def test_a_weight_average_is_what_is_validated_kept_and_handed_back(data):
    plain_model, plain = _train(data, _params(epochs=3), "model_3")
    model, run = _train(data, _params(epochs=3, ema=0.9), "model_3")
    assert run.history != plain.history  # validation scored the average, not the last step's weights
    averaged = build("model_3")
    averaged.load_state_dict(model.state_dict())
    assert score(averaged, data[2], data[3])[1] == run.history[-1].val_accuracy
    best = build("model_3")
    best.load_state_dict(run.best_state)
    assert score(best, data[2], data[3])[1] == run.best.val_accuracy


def test_a_fractional_last_epoch_ends_training_and_its_schedule_part_way(data, monkeypatch):
    steps = []
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, *a, **k: steps.append(1))
    model, run = _train(data, _params(epochs=1.5, schedule="onecycle", warmup=0.3))
    per_epoch = -(-len(data[1]) // 32)
    assert len(steps) == round(1.5 * per_epoch) and [s.epoch for s in run.history] == [1, 2]
    assert format_epoch(run.history[-1], 1.5).startswith("Epoch: 2/1.5\n")


def test_early_stopping_and_lr_reduction(data):
    # lr so small that nothing improves after epoch 1: epoch 2 is a plateau, so epoch 3 runs at
    # a tenth of the rate (patience 0), and with early-stopping patience 2 training stops there.
    _, run = _train(data, _params(lr=1e-7, epochs=10, lr_patience=0, early_stopping_patience=2))
    assert run.stopped_early and run.epochs_run == 3 and run.best.epoch == 1
    assert [s.lr for s in run.history] == pytest.approx([1e-7, 1e-7, 1e-8], rel=1e-6)


def test_epoch_summary_uses_the_seed_format(data):
    _, run = _train(data, _params(epochs=1))
    lines = format_epoch(run.history[0], 12).splitlines()
    assert lines[0] == "Epoch: 1/12"
    assert lines[1].startswith("Training Loss: ") and lines[2].startswith("Training Accuracy: ")
    assert lines[3].startswith("Validation Accuracy: ") and lines[3].endswith("%")
    assert lines[4] == "-" * 50


def test_checkpoint_round_trip(tmp_path, data):
    model, _ = _train(data, _params(epochs=1), "model_2")
    path = tmp_path / "best.pt"
    save_checkpoint(path, model.state_dict(), "model_2", {"dropout": 0.2}, epoch=1, val_accuracy=0.5)
    loaded = load_model(path)
    assert not loaded.training
    x = data[2][:16]
    assert torch.equal(loaded(x), model.eval()(x))
    checkpoint = load_checkpoint(path)
    assert checkpoint["model"] == "model_2" and checkpoint["epoch"] == 1
    assert checkpoint["normalization"] == {"mean": 0.1307, "std": 0.3081}
    # Saving the same weights again gives the same bytes, whatever the file is called.
    save_checkpoint(tmp_path / "other.pt", model.state_dict(), "model_2", {"dropout": 0.2}, epoch=1, val_accuracy=0.5)
    assert (tmp_path / "other.pt").read_bytes() == path.read_bytes()


def test_checkpoint_errors(tmp_path, data):
    with pytest.raises(PipelineError, match="missing.pt: checkpoint not found"):
        load_model(tmp_path / "missing.pt")

    model, _ = _train(data, _params(epochs=1), "model_1")
    wrong = tmp_path / "wrong.pt"
    save_checkpoint(wrong, model.state_dict(), "model_1", {}, epoch=1, val_accuracy=0.5)
    checkpoint = torch.load(wrong, weights_only=True)
    checkpoint["model"] = "model_2"
    checkpoint["hyperparameters"] = {"dropout": 0.2}
    torch.save(checkpoint, wrong)
    with pytest.raises(PipelineError, match="wrong.pt: weights do not match architecture 'model_2'") as error:
        load_model(wrong)
    assert str(error.value).endswith("(saved by another version of models/model_2.py? train it again with this one)")
    assert len(str(error.value)) < 300  # one readable line, however many keys differ

    tampered = tmp_path / "tampered.pt"
    torch.save({"format": "x", "payload": _Payload()}, tampered)
    with pytest.raises(PipelineError, match=r"tampered.pt: refused: holds more than weights .*posix.system"):
        load_model(tampered)

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PipelineError, match="junk.pt: not a readable checkpoint"):
        load_model(tmp_path / "junk.pt")


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_score_on_perfect_and_wrong_predictions():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), 10).float() * 10

    x = torch.arange(10).float().reshape(10, 1, 1, 1).expand(10, 1, 28, 28).contiguous()
    y = torch.arange(10)
    loss, acc, predicted = score(Fixed(), x, y, batch_size=3)
    assert acc == 1.0 and predicted.tolist() == list(range(10)) and loss < 0.01
    _, acc, _ = score(Fixed(), x, (y + 1) % 10, batch_size=4)
    assert acc == 0.0


def test_training_layout_leaves_values_and_checkpoint_bytes_alone(tmp_path, data):
    x = data[0][:64]
    model = build("model_1")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast_model, fast_x = training_layout(model, x)
    assert fast_x.is_contiguous(memory_format=torch.channels_last) and torch.equal(fast_x, x)
    assert fast_model.conv2.weight.is_contiguous(memory_format=torch.channels_last)
    assert not fast_model.conv2.weight.is_contiguous()
    for path, state in ((tmp_path / "plain.pt", before), (tmp_path / "fast.pt", fast_model.state_dict())):
        save_checkpoint(path, state, "model_1", {}, epoch=1, val_accuracy=0.5)
    assert (tmp_path / "plain.pt").read_bytes() == (tmp_path / "fast.pt").read_bytes()


def test_fit_hands_the_model_back_in_the_usual_layout(data):
    model, _ = _train(data, _params(epochs=1), "model_2")
    assert all(p.is_contiguous() for p in model.parameters())


def test_fused_adam_on_cpu_matches_the_default_step_closely(data):
    x, y, *_ = data
    results = []
    for fused in (False, True):
        torch.manual_seed(0)
        model = build("model_1")
        optimizer = torch.optim.Adam(model.parameters(), lr=0.003, fused=fused)
        train_epoch(model, optimizer, x, y, _params(), torch.Generator().manual_seed(0))
        results.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(results[0], results[1], atol=1e-5)
    assert make_optimizer(build("model_1"), _params()).defaults["fused"]


def test_peak_memory_is_reported_in_mib():
    from mnist_pipeline.training.device import peak_memory_mib

    held = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    assert 64 < peak_memory_mib() < 64 * 1024
    del held


def test_a_diverging_run_stops_with_one_line_naming_the_learning_rate(data):
    with pytest.raises(PipelineError, match=r"training diverged in epoch 1 .*learning rate 1e\+09 is likely too high"):
        _train(data, _params(lr=1e9, epochs=2))
