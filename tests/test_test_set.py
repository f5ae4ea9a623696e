"""The test set chooses nothing: a benchmark that chooses (a recipe among candidates, an ablation
row by the rule) prints its choice before it reads a single byte of the test split.

Each benchmark runs in-process on tiny synthetic prepared splits, with every open() of the test
split's file and every printed line logged in order."""

import builtins
import dataclasses
import io
import shutil
import sys

import pytest

from benchmarks.common import recorded
from mnist_pipeline.core import paths
from mnist_pipeline.data.splits import prepare, save_split
from tests.project import ROOT
from tests.synthetic import make_raw, write_raw


class Events:
    """What happened, in order: ("print", line) and ("read test", path)."""

    def __init__(self, monkeypatch):
        self.log: list[tuple[str, str]] = []
        real_open = builtins.open

        def logged_open(file, *args, **kwargs):
            if str(file).replace("\\", "/").endswith(paths.prepared_split("test").as_posix()):
                self.log.append(("read test", str(file)))
            return real_open(file, *args, **kwargs)

        events = self

        class Lines(io.TextIOBase):
            def write(self, text):
                events.log += [("print", line) for line in text.splitlines() if line.strip()]
                return len(text)

        monkeypatch.setattr(builtins, "open", logged_open)
        monkeypatch.setattr(sys, "stdout", Lines())

    def first(self, kind: str, starting: str = "") -> int:
        return next(i for i, (k, text) in enumerate(self.log) if k == kind and text.startswith(starting))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with params.yaml and tiny prepared splits, as the working directory."""
    splits = prepare(write_raw(tmp_path / "raw", make_raw(n_train=240, n_test=40)), val_size=40, seed=0)
    for name, split in splits.items():
        save_split(split, tmp_path / paths.prepared_split(name))
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_time_to_99s_candidates_print_their_choice_before_reading_the_test_split(project, monkeypatch):
    from benchmarks import time_to_accuracy

    recipe = time_to_accuracy.recipes()["model_4"]
    small = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, batch_size=32))
    monkeypatch.setattr(time_to_accuracy, "recipes", lambda: {"model_4": small})
    monkeypatch.setattr(time_to_accuracy, "BEFORE", {"epochs": 1, "lr": 0.01, "label_smoothing": 0.0, "batch_size": 32})
    monkeypatch.setattr(time_to_accuracy, "CANDIDATES", {"1 epoch": ({}, None), "0.7 epochs": ({"epochs": 0.7}, None),
                                                         "pooled head": ({}, time_to_accuracy.variants.PooledHead)})
    events = Events(monkeypatch)
    table = time_to_accuracy.candidates("model_4", [1], time_to_accuracy.prepared_data(("train", "val")))
    assert events.first("print", "chosen on validation:") < events.first("read test")
    assert "| 0.7 epochs |" in table and "| pooled head |" in table and table.count("%") >= 9  # validation, lowest, test
    assert table.splitlines()[-1].startswith("Chosen on validation: ")


def test_the_ablation_prints_each_rows_verdict_before_reading_the_test_split(project, monkeypatch):
    from benchmarks import ablation

    monkeypatch.setattr(ablation, "RESULTS", project / "ablation.json")
    monkeypatch.setattr(ablation, "SEEDS", (1,))
    monkeypatch.setattr(ablation, "LOW_RES_DIGITS", 20)
    monkeypatch.setattr(ablation, "ROWS", {"tiny": ("model_4", {"epochs": 1, "batch_size": 32}),
                                           "tiny-lr": ("model_4", {"epochs": 1, "batch_size": 32, "lr": 0.005})})
    monkeypatch.setattr(ablation, "BASES", {"model_4": {}})
    monkeypatch.setattr(ablation, "DECISIONS", {"tiny-lr": ("tiny", "")})
    events = Events(monkeypatch)
    ablation.run(["tiny", "tiny-lr"])
    verdict = events.first("print", "tiny-lr: validation")
    assert "against `tiny`: " in events.log[verdict][1]
    assert verdict < events.first("read test")
    entries = recorded(project / "ablation.json")
    assert set(entries) == {"tiny-s1", "tiny-lr-s1"} and all("test" in e and "machine" in e for e in entries.values())


def test_the_race_chooses_the_anchors_length_and_trains_everything_before_reading_the_test_split(project, monkeypatch):
    from benchmarks import time_to_accuracy

    recipe = time_to_accuracy.recipes()["model_4"]
    small = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, batch_size=32))
    monkeypatch.setattr(time_to_accuracy, "recipes", lambda: {"model_4": small})
    monkeypatch.setattr(time_to_accuracy, "TARGET", 0.0)  # the first length tried is chosen
    monkeypatch.setattr(time_to_accuracy, "record", lambda sections: None)
    monkeypatch.setattr(time_to_accuracy, "ROOT", project)  # main() works in the project's folder
    events = Events(monkeypatch)
    time_to_accuracy.main(["--seeds", "1"])
    chosen, last_run = events.first("print", "anchor chosen on validation: 1 epoch "), events.first("print", "seed 1, anchor (2")
    assert chosen < last_run < events.first("read test")
