"""The benchmark's pieces on tiny data: its copy of the original project's pipeline must feed the same numbers."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch

from benchmarks import common, contention, speed
import torchvision

from benchmarks.seed_reference import seed_dataset, seed_loader
from mnist_pipeline.data.splits import Split, normalize, prepare
from tests.synthetic import make_raw, write_raw
from tests.project import train_params


def _split(n=300):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator)
    return Split(images, torch.arange(n) % 10)


def _seed_data(tmp_path, n_train=60, val_size=12):
    raw = write_raw(tmp_path / "raw", make_raw(n_train=n_train, n_test=10))
    return raw, seed_dataset(raw, val_size, split_seed=3), prepare(raw, val_size, 3)["train"]


def test_seed_pipeline_is_torchvisions_mnist_over_the_projects_training_images(tmp_path):
    _, dataset, train = _seed_data(tmp_path)
    assert isinstance(dataset.dataset, torchvision.datasets.MNIST) and len(dataset) == len(train)
    expected = normalize(train.images)
    for i in (0, 7, len(train) - 1):
        image, label = dataset[i]
        assert image.shape == (1, 28, 28) and label == int(train.labels[i])
        assert torch.allclose(image, expected[i], atol=1e-6)
    batch, labels = next(iter(seed_loader(dataset, 8, seed=0)))
    assert batch.shape == (8, 1, 28, 28) and labels.shape == (8,)


def test_flop_count_is_forward_plus_backward():
    # Forward multiply-adds of model_2 per image: conv1, conv2, fc1, fc2 (2 FLOPs each).
    forward = 2 * (784 * 6 * 9 + 196 * 12 * 6 * 9 + 588 * 24 + 24 * 10)
    flops = speed.flops_per_image("model_2", {"dropout": 0.2}, 16)
    # Backward adds weight gradients everywhere and input gradients except for the first conv.
    assert 2.5 * forward < flops <= 3 * forward


def test_every_loop_trains_and_is_timed(tmp_path):
    params = train_params(batch_size=64, epochs=1, lr=0.003)
    _, seed_data, train = _seed_data(tmp_path, n_train=300, val_size=20)
    times = speed.epoch_times("model_2", {"dropout": 0.2}, train, seed_data, params, epochs=2)
    assert set(times) == {"project", "augmented", "unoptimized", "seed-style"}
    assert all(len(t) == 2 and min(t) > 0 for t in times.values())


def test_table_reports_ratios_and_pipeline_figures():
    model = {
        "epoch_s": {"project": 1.0, "augmented": 1.15, "unoptimized": 1.5, "seed-style": 3.5},
        "speedup_vs_seed_style": 3.5, "speedup_vs_unoptimized": 1.5, "augmentation_cost": 0.15,
        "gflop_per_epoch": 60.0, "achieved_gflops": 60.0, "share_of_matmul_peak": 0.35,
    }
    results = {
        "machine": {"cpu": "test cpu", "cores": 2, "torch_threads": 2, "torch": "2.13.0"},
        "epochs_timed": 3, "train_images": 55000, "matmul_gflops": 171.4,
        "models": {"model_1": model, "model_2": model},
        "time_to_accuracy": {"target": 0.99, "models": {
            "model_1": {"reached": False, "epochs": 12, "seconds": 44.0, "best_val_accuracy": 0.988},
            "model_2": {"reached": True, "epoch": 9, "seconds": 31.26, "val_accuracy": 0.9902, "test_accuracy": 0.9911},
        }},
        "pipeline": {
            "dvc_repro_force_s": 58.2, "fixed_cost_s": 20.2, "fixed_cost_in_stages_s": 12.1, "fixed_cost_dvc_s": 8.1,
            "dvc_repro_noop_s": 1.3, "dvc_repro_noop_pure_yaml_s": 3.1, "dvc_exp_show_s": 1.2,
            "dvc_exp_show_pure_yaml_s": 2.4, "outputs": 16, "outputs_differing_from_workspace": ["metrics/report.md"],
            "train_peak_memory_mib": {"model_1": 700.0, "model_2": 690.0},
            "train_seconds": {"model_1": 20.0, "model_2": 18.0},
            "test_accuracy": {"model_1": 0.988, "model_2": 0.9874},
        },
    }
    setup = {"alone_s": 2.0, "busy_slowdown": 1.9, "two_at_once_vs_sequential": 0.95, "two_at_once_wall_s": 19.0,
             "one_after_the_other_wall_s": 20.0, "training_two_at_once_vs_sequential": 1.02}
    results["contention"] = {name: setup for name in contention.SETUPS} | {
        "identical_weights_per_thread_count": True, "images": 30000, "repeats": 2}
    text = speed.table(results)
    assert "| | model_1 | model_2 |" in text
    assert "| **speed-up over the original project's pipeline** | **3.50x** | **3.50x** |" in text
    assert "60.0 GFLOP/s (35%)" in text and "171 GFLOP/s" in text and "| 1.15 s | 1.15 s |" in text
    assert "| augmentation's cost per epoch | +15% | +15% |" in text
    # Every epoch kept: medians and ranges, the pipeline alone beside the whole speed-up, the batch size.
    times = {"project": [1.0, 1.2, 0.9, 1.1, 1.0], "augmented": [1.1, 1.0, 1.0, 1.3, 1.2],
             "unoptimized": [1.5, 1.6, 1.4, 1.5, 1.5], "seed-style": [3.0, 3.6, 3.3, 3.5, 3.0]}
    epoch = {"vs_seed_style": speed.ratios(times["seed-style"], times["project"]),
             "vs_unoptimized": speed.ratios(times["unoptimized"], times["project"]),
             "pipeline_alone": speed.ratios(times["seed-style"], times["unoptimized"]),
             "augmented": speed.ratios(times["augmented"], times["project"])}
    measured = {**model, "batch_size": 256, "epoch_s_all": times, "ratios_per_epoch": epoch, "speedup_pipeline_alone": 2.2}
    one = speed.table({**results, "models": {"model_4": measured}, "time_to_accuracy": None, "pipeline": None})
    assert "| batch size (the model's recipe, in every loop) | 256 |" in one
    assert "| epoch, this project's loop | 1.00 s (0.90 to 1.20) |" in one
    assert "| augmentation's cost per epoch | +11% (-17% to +20%) |" in one  # 1.0/1.2 to 1.2/1.0: noise, shown as such
    assert "| **speed-up over the original project's pipeline** | **3.50x** (3.00x to 3.67x) |" in one
    assert "| the data pipeline alone (the original project's pipeline against the same loop without channels-last and fused Adam) | " \
           "2.20x (2.00x to 2.36x) |" in one
    assert "| training time to 99.0% validation accuracy, with its recipe | not reached in 12 epochs (44 s) | 31.3 s (epoch 9) |" in text
    assert "| test accuracy at that epoch | - | 99.11% |" in text
    assert "**58 s**, of which **20 s** is not training" in text and "98.74%" in text
    assert "no-op `dvc repro`: **1.3 s** (3.1 s with ruamel.yaml's pure-Python parser)" in text
    assert "`dvc exp show`: **1.2 s** (2.4 s with ruamel.yaml's pure-Python parser)" in text
    without_clib = speed.table({**results, "pipeline": {**results["pipeline"], "yaml_c_parser": False}})
    assert "no-op `dvc repro`: **1.3 s** (ruamel.yaml.clib is not installed" in without_clib
    assert "the workspace's `dvc.lock`: **15 of 16** (differing: `metrics/report.md`)." in text
    assert "**12 s** inside the stages' processes" in text and "**8 s** in DVC" in text
    results["pipeline"] |= {"outputs_differing_from_workspace": ["a/1", "a/2", "b/1", "b/2"],
                            "stages_differing_from_workspace": ["train@model_1", "evaluate@model_1"]}
    assert "**12 of 16** (differing: 4 outputs of `train@model_1`, `evaluate@model_1`)." in speed.table(results)
    assert "| project default | 2.00 s | 1.90x | 1.02x | 0.95x (19.0 s vs 20.0 s) |" in text
    assert "ended with the same weights" in text


def test_the_stage_clock_records_each_stage_process(tmp_path):
    env = speed._with_sitecustomize(tmp_path / "clock", speed.STAGE_CLOCK.format(log=str(tmp_path / "log")), dict(os.environ))
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "work.py").write_text("import time; time.sleep(0.3)")
    for script in ("stages/work.py", "other.py"):
        (tmp_path / script).write_text("import time; time.sleep(0.3)")
        subprocess.run([sys.executable, script], cwd=tmp_path, env=env, check=True)
    (line,) = (tmp_path / "log").read_text().splitlines()  # the stage only
    start, end, script = line.split(maxsplit=2)
    assert script.endswith("stages/work.py") and 0.3 <= float(end) - float(start) < 5


def test_the_pure_python_yaml_switch_turns_off_ruamels_c_parser(tmp_path):
    env = speed._with_sitecustomize(tmp_path / "pure", speed.PURE_PYTHON_YAML, dict(os.environ))
    probe = "import ruamel.yaml.main as m; print(m.CParser is not None)"
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    pure = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout
    assert (plain, pure) == ("True\n", "False\n")  # requirements.txt installs the C parser


def test_output_hashes_ignore_dependency_hashes(tmp_path):
    lock = "schema: '2.0'\nstages:\n  a:\n    cmd: x\n    deps:\n    - path: {dep}\n      md5: {d}\n    outs:\n    - path: o\n      md5: {o}\n"
    (tmp_path / "1.lock").write_text(lock.format(dep="s.py", d="1", o="abc"))
    (tmp_path / "2.lock").write_text(lock.format(dep="s.py", d="2", o="abc"))
    (tmp_path / "3.lock").write_text(lock.format(dep="s.py", d="1", o="abd"))
    hashes = [speed.output_hashes(tmp_path / f"{i}.lock") for i in (1, 2, 3)]
    assert hashes[0] == {("a", "o"): "abc"} and hashes[0] == hashes[1] != hashes[2]


def test_benchmark_covers_every_model_in_params():
    from mnist_pipeline.core.params import model_names
    from tests.project import project_params

    assert list(common.recipes()) == model_names(project_params())


def test_time_to_accuracy_stops_at_the_first_epoch_that_reaches_the_target(data):
    from benchmarks.time_to_accuracy import time_to_accuracy
    from mnist_pipeline.core.params import Recipe

    train_x, train_y, val_x, val_y = data
    splits = {"train": (train_x, train_y), "val": (val_x, val_y), "test": (val_x, val_y)}
    recipe = Recipe(train_params(epochs=4, batch_size=32, lr=0.01), {"dropout": 0.0})
    never = time_to_accuracy("model_2", recipe, splits, target=1.01)
    assert never["reached"] is False and never["epochs"] == 4 and 0 < never["best_val_accuracy"] <= 1
    target = never["best_val_accuracy"]  # reached at the best epoch, or before it
    reached = time_to_accuracy("model_2", recipe, splits, target=target)
    assert reached["reached"] and 1 <= reached["epoch"] <= 4 and reached["val_accuracy"] >= target
    assert reached["test_accuracy"] == reached["val_accuracy"]  # "test" is the validation split here
    assert reached["seconds"] > 0


def test_alone_times_every_setup_in_alternating_turns(monkeypatch):
    order, seconds = [], {"a": iter([3.0, 1.0, 2.0]), "b": iter([5.0, 6.0, 4.0])}
    monkeypatch.setattr(contention, "_start", lambda setup, images: order.append(setup) or setup)
    monkeypatch.setattr(contention, "_finish", lambda setup: (next(seconds[setup]), "digest", 0.0, 0.0))
    medians = contention.alone(3, images=512, setups={"first": "a", "second": "b"})
    assert order == ["a", "b", "b", "a", "a", "b"]  # neither setup always goes first
    assert medians == {"first": 2.0, "second": 5.0}


def test_the_race_trains_each_contender_on_each_seed_in_turns(data, monkeypatch):
    from benchmarks import time_to_accuracy as race_module

    train_x, train_y, val_x, val_y = data
    splits = {"train": (train_x, train_y), "val": (val_x, val_y)}
    order = []
    recipe = race_module.recipes()["model_4"]
    small_batches = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, batch_size=32))
    monkeypatch.setattr(race_module, "recipes", lambda: {"model_4": small_batches})  # the synthetic set is small
    monkeypatch.setattr(race_module, "prepared_data", lambda names: order.append("test read") or {"test": (val_x, val_y)})
    real_anchor, real_recipe = race_module.train_anchor, race_module.train_recipe
    monkeypatch.setattr(race_module, "train_anchor", lambda *a: order.append(f"anchor{a[4]:g}") or real_anchor(*a))
    monkeypatch.setattr(race_module, "train_recipe", lambda *a: order.append("model") or real_recipe(*a))
    result = race_module.race("model_4", [1, 2], splits, anchor_epochs=1.3)
    assert order == ["model", "anchor1.3", "anchor1", "anchor2"] * 2 + ["test read"]  # seed by seed, test last
    ours = f"model_4 ({recipe.train.epochs:g} epochs)"
    assert list(result) == [ours, "anchor (1.3 epochs)", "anchor (1 epoch)", "anchor (2 epochs)"]
    for runs in result.values():
        assert len(runs["seconds"]) == 2 and all(0 <= a <= 1 for a in runs["test_accuracy"] + runs["val_accuracy"])
    assert min(result[ours]["test_accuracy"]) > 0.5  # the synthetic set is easy
    table = race_module.race_table(result, threads=2, anchor_epochs=1.3)
    assert "| anchor (2 epochs) |" in table and table.count("\n| ") == 6  # header, rule, 4 rows
    assert table.splitlines()[-1].startswith(f"{ours} ") and "the anchor's shortest such recipe (1.3 epochs)" in table
    order.clear()
    assert list(race_module.race("model_4", [1], splits, anchor_epochs=1.0)) == [
        ours, "anchor (1 epoch)", "anchor (2 epochs)"]  # a chosen 1 epoch is raced once


def test_the_anchor_is_the_published_recipe():
    """tuomaso/train_mnist_fast's 8_Final_00s76.ipynb: Adam(lr=1e-2, betas=(0.7, 0.9)), batch 256,
    OneCycleLR(max_lr=lr, total_steps=int(batches * epochs), cycle_momentum=False), no shuffling."""
    import torch

    from benchmarks import anchor

    assert (anchor.BATCH, anchor.LR, anchor.BETAS, anchor.CYCLE_MOMENTUM) == (256, 0.01, (0.7, 0.9), False)
    assert anchor.anchor_steps(60_000, 1) == 235 and anchor.anchor_steps(55_000, 1.09) == 234
    assert sum(p.numel() for p in anchor.AnchorNet().parameters()) == 24 * 25 + 24 + 32 * 24 * 9 + 32 + 800 * 256 + 256 + 2570
    seen = {}
    real = torch.optim.lr_scheduler.OneCycleLR

    def spy(optimizer, **kwargs):
        seen.update(kwargs, betas=optimizer.param_groups[0]["betas"], lr=optimizer.param_groups[0]["lr"])
        return real(optimizer, **kwargs)

    x, y = torch.zeros(600, 1, 28, 28), torch.zeros(600, dtype=torch.long)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.lr_scheduler, "OneCycleLR", spy)
        result = anchor.train_anchor(x, y, x[:10], y[:10], 1.5, seed=0)
    assert seen["cycle_momentum"] is False and seen["max_lr"] == 0.01 and seen["total_steps"] == 4  # int(1.5 * 3)
    assert seen["betas"] == (0.7, 0.9) and result["val_accuracy"] == 1.0  # every label 0: learnt


def test_the_anchors_length_is_the_shortest_reaching_the_target_on_every_seed(monkeypatch):
    from benchmarks import time_to_accuracy as race_module

    vals = {(1.0, 1): 0.995, (1.0, 2): 0.985, (1.1, 1): 0.992, (1.1, 2): 0.990}
    monkeypatch.setattr(race_module, "train_anchor", lambda tx, ty, vx, vy, epochs, seed: {"val_accuracy": vals[epochs, seed]})
    data = {"train": (None, None), "val": (None, None)}
    assert race_module.anchor_length([1, 2], data, lengths=[1.0, 1.1, 1.2]) == 1.1
    with pytest.raises(SystemExit, match="at none of 1 to 1"):
        race_module.anchor_length([1, 2], data, lengths=[1.0])


def test_the_ablation_table_gives_each_row_its_means_and_the_control_only_where_every_seed_has_it():
    from benchmarks import ablation

    found = {"m3-recipe-s1": {"val": 0.994, "test": 0.993, "low_res_val": 0.96},
             "m3-recipe-s2": {"val": 0.992, "test": 0.995, "low_res_val": 0.98},
             "m3-ema-s1": {"val": 0.99, "test": 0.99}}
    lines = ablation.table(found).splitlines()
    assert len(lines) == 4  # the header, its rule and the two rows found, in ROWS' order
    assert lines[2].startswith("| `m3-recipe` |") and "| 99.30% | 97.0% | 99.40% | 99.30% / 99.50% |" in lines[2]
    assert lines[3].startswith("| `m3-ema` |") and "| 99.00% | - | 99.00% |" in lines[3]


def test_the_ablation_table_names_the_parameter_count_each_row_ran_with_when_runs_recorded_it():
    from benchmarks import ablation

    found = {"m3-recipe-s1": {"val": 0.994, "test": 0.993, "parameters": 7578},
             "m3-separable-s1": {"val": 0.995, "test": 0.995, "parameters": 7514}}
    header, rule, first, last = ablation.table(found).splitlines()
    assert "| model | parameters | changes |" in header and rule.count("|") == header.count("|")
    assert "| model_3 | 7,578 |" in first and "| model_3 | 7,514 |" in last and last.count("|") == header.count("|")
    assert "parameters" not in ablation.table({"m3-recipe-s1": {"val": 0.994, "test": 0.993}})  # experiments record none


def test_training_work_counts_a_depthwise_convolution_as_the_cheap_layer_it_is():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks.speed import training_flops

    def counts(layer):
        head = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3), layer, torch.nn.Flatten(), torch.nn.LazyLinear(10))
        x, y = torch.randn(2, 1, 12, 12), torch.randint(0, 10, (2,))
        head(x)  # sizes the linear layer
        with FlopCounterMode(display=False) as plain:
            torch.nn.functional.cross_entropy(head(x), y).backward()
        with FlopCounterMode(display=False) as forward, torch.no_grad():
            head(x)
        return training_flops(head, x, y), plain.get_total_flops(), forward.get_total_flops()

    ours, torchs, forward = counts(torch.nn.Conv2d(16, 16, 3))
    assert ours == torchs  # full convolutions: torch's own count
    ours, torchs, forward = counts(torch.nn.Conv2d(16, 16, 3, groups=16))
    first_layer = 2 * 2 * 16 * 9 * 10 * 10  # its forward, again for its weights' gradient (no input gradient)
    assert ours == 3 * forward - first_layer < torchs  # every other layer: forward, input and weight gradients


def test_a_benchmark_records_its_figures_beside_the_other_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results.json")
    common.record({"time_to_99": {"seconds": 5.3}})
    common.record({"pipeline": {"dvc_repro_force_s": 463}, "machine": {"cpu": "a"}})
    common.record({"machine": {"cpu": "b"}})
    assert json.loads((tmp_path / "results.json").read_text()) == {
        "time_to_99": {"seconds": 5.3}, "pipeline": {"dvc_repro_force_s": 463}, "machine": {"cpu": "b"}}


def test_the_ablation_table_names_each_rows_machine_and_what_was_taken_by_which_rule(monkeypatch):
    from benchmarks import ablation

    found = {"m3-recipe-s1": {"val": 0.9940, "test": 0.993, "machine": "cpu A"},
             "m3-recipe-s2": {"val": 0.9940, "test": 0.993, "machine": "cpu B"},
             "m3-no-aug-s1": {"val": 0.9945, "test": 0.990, "machine": "cpu A"},
             "m3-no-aug-s2": {"val": 0.9945, "test": 0.990, "machine": "cpu A"},
             "m3-sgd-s1": {"val": 0.9960, "machine": "cpu A"}}  # validation recorded, test not yet
    monkeypatch.setattr(ablation, "DECISIONS", {"m3-recipe": (None, "the base"), "m3-no-aug": ("m3-recipe", ""),
                                                "m3-sgd": ("m3-recipe", "")})
    crossvalidated = {"m3-no-aug": {"against": "m3-recipe", "reported": {"mean": 0.0003, "ci95_low": -0.0008,
                                                                         "ci95_high": 0.0014}}}
    base, no_aug, sgd = ablation.table(found, crossvalidated).splitlines()[2:]
    assert "(the base recipe: lr=0.01, schedule=onecycle," in base and base.endswith("| cpu A / cpu B | the base |")
    assert no_aug.endswith("| cpu A | +0.05 pp against `m3-recipe`; 5-fold CV +0.03 pp (-0.08 to +0.14): "
                           "to 5-fold cross-validation by rule 2 (ahead by less) |")
    assert "| 99.60% | - | - | - | cpu A | +0.20 pp against `m3-recipe`: taken by rule 1" in sgd


def test_cross_validated_changes_show_rule_2_as_applied_and_the_corrected_interval():
    from benchmarks import ablation
    from mnist_pipeline.evaluation.crossval import repeated_difference

    seeds = [[0.002, 0.001, 0.003, 0.001, 0.0], [0.0, 0.001, 0.001, 0.001, 0.002]]
    crossvalidated = {
        "m3-sgd": {"against": "m3-recipe", "candidates": 4, "machine": "cpu A", "differences": seeds, "taken": True},
        "a script's change": {"change": "a wider layer", "against": "m3-recipe", "candidates": 4, "machine": "cpu A",
                              "reported": {"mean": -0.0005, "ci95_low": -0.0013, "ci95_high": 0.0003}, "taken": False}}
    header, _, taken, rejected = ablation.crossval_table(crossvalidated).splitlines()
    corrected = repeated_difference(seeds, candidates=4)
    assert corrected["confidence"] == 0.9875 and corrected["mean"] == 0.0012
    assert taken.startswith("| `m3-sgd` | `m3-recipe` | cpu A | 4 | +0.20, +0.10, +0.30, +0.10, +0.00; +0.00, ")
    assert f"| +0.12 pp ({corrected['ci95_low'] * 100:+.2f} to {corrected['ci95_high'] * 100:+.2f}), 98.75% | yes |" in taken
    assert "| +0.14 pp (" in taken  # rule 2 as applied: the first seed alone, at 95%
    assert rejected == "| a wider layer | `m3-recipe` | cpu A | 4 | not kept | -0.05 pp (-0.13 to +0.03) | - | no |"


def test_the_candidate_chosen_is_the_fastest_reaching_the_target_and_bfloat16_needs_a_fifth_more_speed(monkeypatch):
    from benchmarks import time_to_accuracy as race_module

    monkeypatch.setattr(race_module, "CANDIDATES", {
        "slow": ({}, None), "fast": ({"epochs": 0.7}, None), "fast, bfloat16": ({"epochs": 0.7, "precision": "bfloat16"}, None),
        "short": ({"epochs": 0.5}, None)})

    def runs(seconds: dict, vals: dict) -> dict:
        return {label: [{"seconds": s, "val_accuracy": vals.get(label, 0.995)} for s in (seconds[label],) * 3] for label in seconds}

    assert race_module.float32_twin("fast, bfloat16") == "fast" and race_module.float32_twin("fast") is None
    chosen = race_module.choose(runs({"slow": 5.0, "fast": 3.5, "fast, bfloat16": 3.2, "short": 2.0}, {"short": 0.985}))
    assert chosen.startswith("fast (the fastest, 3.50 s median, of the 3 reaching") and "1.09x its float32 twin" in chosen
    chosen = race_module.choose(runs({"slow": 5.0, "fast": 3.6, "fast, bfloat16": 3.0, "short": 2.0}, {"short": 0.985}))
    assert chosen.startswith("fast, bfloat16 (the fastest, 3.00 s")  # 1.2x: worth its dependence on the CPU
    chosen = race_module.choose(runs({"slow": 5.0, "fast": 3.6, "fast, bfloat16": 3.0, "short": 2.0}, {"fast": 0.985, "short": 0.985}))
    assert chosen.startswith("slow") and "(no float32 twin reaching it)" in chosen  # its gain unshown
    assert race_module.choose(runs({"slow": 5.0, "fast": 3.5, "fast, bfloat16": 3.2, "short": 2.0},
                                   dict.fromkeys(["slow", "fast", "fast, bfloat16", "short"], 0.98))).startswith("none")
