"""Augmentation, optimizers, schedules and label smoothing: what each does to training."""

import math

import pytest
import torch

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import torch_bytes
from mnist_pipeline.core.params import model_recipe
from mnist_pipeline.evaluation.scoring import score
from mnist_pipeline.training.augment import BLACK, random_affine, random_low_resolution
from mnist_pipeline.training.device import make_deterministic
from mnist_pipeline.training.loop import fit
from tests.project import build, project_params, train_params

AUGMENTED = dict(augment_rotate=15, augment_translate=0.1, augment_scale=0.1)


def _params(**overrides):
    return train_params(**{"batch_size": 32, "epochs": 3, "lr": 0.003, "seed": 5, **overrides})


def _train(data, params, name="model_2"):
    make_deterministic(params.seed)
    model = build(name)
    return model, fit(model, *data, params, log=lambda s: None)


def _digits(n=8):
    """n copies of a bright square on black, in normalized units."""
    images = torch.full((n, 1, 28, 28), BLACK)
    images[:, :, 10:18, 10:18] = (1 - 0.1307) / 0.3081
    return images


def test_augmentation_moves_each_image_its_own_way_and_pads_with_black():
    images = _digits()
    moved = random_affine(images, torch.Generator().manual_seed(0), 0, 0.2, 0)
    assert all(not torch.equal(moved[0], moved[i]) for i in range(1, len(moved)))
    # A shift brings in only black: the borders stay black, never the grey that 0.0 would be.
    assert torch.allclose(moved[:, :, 0, :], torch.tensor(BLACK)) and moved.min() >= BLACK - 1e-5
    # Ink is conserved by a pure shift (the square stays inside the picture).
    ink = lambda x: (x - BLACK).sum(dim=(1, 2, 3))
    assert torch.allclose(ink(moved), ink(images), rtol=1e-4)


def test_augmentation_is_seeded_and_bounded():
    images = _digits()
    a = random_affine(images, torch.Generator().manual_seed(1), 30, 0.1, 0.2)
    b = random_affine(images, torch.Generator().manual_seed(1), 30, 0.1, 0.2)
    c = random_affine(images, torch.Generator().manual_seed(2), 30, 0.1, 0.2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(random_affine(images, torch.Generator(), 0, 0, 0), images, atol=1e-5)


def test_low_resolution_blurs_a_share_of_the_images_and_keeps_their_ink():
    images = _digits(200)
    low = random_low_resolution(images, torch.Generator().manual_seed(0), 0.25)
    changed = [not torch.equal(low[i], images[i]) for i in range(len(images))]
    assert 25 < sum(changed) < 75  # about a quarter; the others untouched
    # Shrinking and enlarging turns the square's sharp edges grey, and keeps about its ink.
    grey = lambda x: ((x > BLACK + 0.1) & (x < x.max() - 0.1)).sum().item()
    assert all(grey(low[i]) > 20 for i in range(len(images)) if changed[i]) and grey(images) == 0
    ink = lambda x: (x - BLACK).sum(dim=(1, 2, 3))
    assert torch.allclose(ink(low).mean(), ink(images).mean(), rtol=0.05)
    again = random_low_resolution(images, torch.Generator().manual_seed(0), 0.25)
    assert torch.equal(low, again)
    assert torch.equal(random_low_resolution(images, torch.Generator(), 0.0), images)


def test_augmentation_changes_training_but_not_validation(data):
    plain, run = _train(data, _params())
    augmented, aug_run = _train(data, _params(**AUGMENTED))
    assert torch_bytes(plain.state_dict()) != torch_bytes(augmented.state_dict())
    # Validation is scored on the images as they are: the best weights reproduce their score.
    best = build("model_2")
    best.load_state_dict(aug_run.best_state)
    assert score(best, data[2], data[3])[1] == aug_run.best.val_accuracy


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "muon"])
def test_each_optimizer_learns(data, optimizer):
    lr = 0.01 if optimizer == "sgd" else 0.003
    _, run = _train(data, _params(optimizer=optimizer, lr=lr, weight_decay=1e-4, muon_lr=0.02))
    assert run.history[-1].val_accuracy > 0.8 and run.history[-1].train_loss < run.history[0].train_loss


def test_optimizers_differ(data):
    results = {opt: _train(data, _params(optimizer=opt, weight_decay=0.01))[0] for opt in ("adam", "adamw")}
    assert torch_bytes(results["adam"].state_dict()) != torch_bytes(results["adamw"].state_dict())


def test_muon_orthogonalizes_the_weight_matrices_and_leaves_the_rest_to_adam():
    from mnist_pipeline.training.optim import Muon

    model = build("model_4")
    optimizer = Muon(model, lr=0.01, muon_lr=0.05, momentum=0.9, weight_decay=0.0)
    muon, adam = optimizer.param_groups
    names = {id(p): name for name, p in model.named_parameters()}
    assert [names[id(p)] for p in muon["params"]] == [
        "features.0.weight", "features.2.weight", "features.6.weight", "features.9.weight", "classifier.1.weight"]
    assert "classifier.3.weight" in {names[id(p)] for p in adam["params"]}  # the output layer
    assert (muon["lr"], adam["lr"]) == (0.05, 0.01)
    singular = torch.linalg.svdvals(Muon.orthogonalize(torch.randn(32, 288, generator=torch.Generator().manual_seed(0))))
    assert 0.6 < singular.min() and singular.max() < 1.2  # every direction moves about as far (the quintic's band)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model(torch.randn(8, 1, 28, 28)).logsumexp(1).mean().backward()
    optimizer.step()
    moved = {name: (p.detach() - before[name]) for name, p in model.named_parameters()}
    step = torch.linalg.svdvals(moved["features.9.weight"].reshape(32, -1) / 0.05)
    assert 0.6 < step.min() and step.max() < 1.2  # Muon's update, at muon_lr
    assert moved["classifier.3.bias"].abs().max() == pytest.approx(0.01, rel=1e-3)  # Adam's first step: lr


def test_onecycle_warms_up_to_lr_then_anneals(data):
    _, run = _train(data, _params(schedule="onecycle", lr=0.01, epochs=4, warmup=0.5))
    rates = [s.lr for s in run.history]  # each epoch's starting rate
    assert rates[0] == pytest.approx(0.01 / 25)  # OneCycle starts at lr / 25
    assert rates[2] == pytest.approx(0.01, rel=0.05)  # half the steps warm up: epoch 3 starts near the peak
    assert rates[3] < rates[2]


def test_cosine_anneals_every_step_from_lr_towards_zero(data):
    params = _params(schedule="cosine", lr=0.01, epochs=4)
    _, run = _train(data, params)
    for epoch, stats in enumerate(run.history):
        assert stats.lr == pytest.approx(0.01 * (1 + math.cos(math.pi * epoch / 4)) / 2, rel=1e-6)


def test_label_smoothing_raises_the_training_loss(data):
    _, plain = _train(data, _params())
    _, smoothed = _train(data, _params(label_smoothing=0.2))
    assert smoothed.history[-1].train_loss > plain.history[-1].train_loss + 0.1


@pytest.mark.parametrize(
    "recipe",
    [dict(AUGMENTED, augment_low_res=0.5), dict(schedule="onecycle"), dict(optimizer="sgd", lr=0.05, schedule="cosine"),
     dict(optimizer="adamw", label_smoothing=0.1), dict(optimizer="muon", schedule="onecycle", muon_lr=0.02)],
    ids=["augmented", "onecycle", "sgd-cosine", "adamw-smoothing", "muon-onecycle"],
)
@pytest.mark.slow  # over 2 s on 2 idle cores: the fast tier stays under a minute
def test_every_option_reruns_byte_identically(data, recipe):
    first, run = _train(data, _params(epochs=2, **recipe), name="model_3")
    second, again = _train(data, _params(epochs=2, **recipe), name="model_3")
    assert torch_bytes(first.state_dict()) == torch_bytes(second.state_dict())
    assert run.history == again.history


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("optimizer", "rmsprop", "train.optimizer: invalid value 'rmsprop' (allowed: adam|adamw|sgd|muon)"),
        ("schedule", "step", "train.schedule: invalid value 'step' (allowed: plateau|onecycle|cosine)"),
        ("momentum", 1.0, "train.momentum: invalid value 1.0"),
        ("warmup", 0, "train.warmup: invalid value 0 "),
        ("label_smoothing", 1, "train.label_smoothing: invalid value 1 "),
        ("augment_rotate", -5, "train.augment_rotate: invalid value -5 (allowed: 0 <= augment_rotate <= 180)"),
        ("augment_scale", 0.9, "train.augment_scale: invalid value 0.9"),
        ("augment_low_res", 1.5, "train.augment_low_res: invalid value 1.5 (allowed: 0 <= augment_low_res <= 1)"),
        ("augment_translate", "a bit", "train.augment_translate: expected a number, got 'a bit'"),
    ],
)
def test_bad_recipe_values_are_one_line_errors(key, value, message):
    params = project_params()
    params["train"][key] = value
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")) as err:
        model_recipe(params, "model_1", {})
    assert "\n" not in str(err.value)


def test_a_onecycle_warmup_of_one_step_is_a_one_line_error(data):
    """torch's OneCycleLR divides by zero there; few, large batches (tiny data, batch 256) reach it."""
    with pytest.raises(PipelineError, match=r"^params.yaml: the recipe: onecycle's warmup 0.25 of 4 steps \(2 epochs of "
                                            r"2 batches of 256\) is not more than one step"):
        _train(data, _params(schedule="onecycle", epochs=2, batch_size=256))
