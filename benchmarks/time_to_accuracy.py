"""Time to 99%: the project's fastest model against the fastest public recipe, side by side.

    python -m benchmarks.time_to_accuracy [--model model_4] [--seeds 1 2 3] [--docs]
    python -m benchmarks.time_to_accuracy --candidates [--docs]   # how model_4's recipe was chosen

Needs the prepared data (`dvc repro preprocess`). First the anchor's length is chosen by the rule
that chooses model_4's recipe, for a recipe whose only knob is its length: the shortest, in tenths of
an epoch, whose validation accuracy reaches 99.0% on every seed (`--anchor-epochs` skips this). Then, for each seed in turn, the model trains with its
recipe from params.yaml through the pipeline's own `fit` (the weights it keeps are chosen on
validation, as the train stage does), then the anchor (benchmarks/anchor.py, the published recipe)
at that length, at 1 epoch (as published) and at 2: same data, same threads, taking turns so that
the machine's moods fall on all of them. Each prints training seconds and validation accuracy per
seed; once all have trained, the test split is read and the table shows the median seconds, the
test accuracy and the headline: the model's median against the anchor's shortest 99% recipe's.
benchmarks/results.json's "time_to_99" records them, and --docs writes the table into
docs/performance.md. --candidates trains each candidate of CANDIDATES (each a lever for model_4's
recipe, some on another network: benchmarks/variants.py) on the seeds instead, taking turns seed by
seed, prints the choice (the fastest, by median seconds, whose validation accuracy reaches 99.0% on
every seed), and only then reads the test split and shows each candidate's test accuracy beside its
validation and time. Each table names the machine.
`time_to_accuracy()` (the first epoch whose validation
accuracy reaches a target, per model) is what `python -m benchmarks.speed` reports.
"""

import argparse
import dataclasses
import os
import statistics
import time
from typing import Callable

import torch

from benchmarks import variants
from benchmarks.anchor import train_anchor
from benchmarks.common import ROOT, machine_label, recipes, record
from mnist_pipeline.core import paths
from mnist_pipeline.data.splits import load_split, normalize
from mnist_pipeline.evaluation.scoring import score
from mnist_pipeline.core.wording import plural
from mnist_pipeline.readme import replace_block
from mnist_pipeline.training.architectures import build_model
from mnist_pipeline.training.device import make_deterministic, set_threads
from mnist_pipeline.training.loop import fit
from mnist_pipeline.training.steps import steps_per_epoch, total_steps

TARGET = 0.99


class Reached(Exception):
    """Stops `fit` at the epoch that reached the target."""


def time_to_accuracy(name: str, recipe, data: dict, target: float) -> dict:
    set_threads(recipe.train.threads)
    make_deterministic(recipe.train.seed)
    model = build_model(name, **recipe.hyperparameters)
    test_x, test_y = data["test"]
    start = time.perf_counter()
    reached: dict = {}

    def on_epoch(stats) -> None:
        if stats.val_accuracy >= target:
            seconds = time.perf_counter() - start  # before the test set is scored
            reached.update(epoch=stats.epoch, seconds=round(seconds, 2), val_accuracy=stats.val_accuracy,
                           test_accuracy=score(model, test_x, test_y)[1])
            raise Reached

    try:
        run = fit(model, *data["train"], *data["val"], recipe.train, log=lambda line: None, on_epoch=on_epoch)
        return {"reached": False, "epochs": run.epochs_run, "seconds": round(run.seconds, 2),
                "best_val_accuracy": run.best.val_accuracy}
    except Reached:
        return {"reached": True, **reached}


def prepared_data(names: tuple[str, ...] = ("train", "val", "test")) -> dict:
    """The prepared splits named as normalized (images, labels): a choice loads ("train", "val") and
    the test split only once it is made."""
    splits = {name: load_split(paths.prepared_split(name)) for name in names}
    return {name: (normalize(split.images), split.labels) for name, split in splits.items()}


def score_on_test(model, test: tuple) -> float:
    return score(model, *test)[1]


# model_4's candidate recipes, each a change to the recipe it had before (Adam at lr 0.02 for 1.1 epochs, batch
# 256, label smoothing 0.1, float32), with the network it trains where that is not model_4 (benchmarks/variants.py).
BEFORE = {"optimizer": "adam", "epochs": 1.1, "lr": 0.02, "batch_size": 256, "label_smoothing": 0.1,
          "precision": "float32"}
MUON = {"optimizer": "muon", "muon_lr": 0.05, "momentum": 0.9}
FAST_MUON = {"optimizer": "muon", "muon_lr": 0.08, "momentum": 0.8}
HALF = total_steps(1.1, steps_per_epoch(55_000, 256)) // 2  # half of 1.1 epochs of the prepared training split
CANDIDATES: dict[str, tuple[dict, Callable | None]] = {
    "Adam, 1.1 epochs (before)": ({}, None),
    "Adam, 1.0 epochs": ({"epochs": 1.0}, None),
    "bfloat16, 1.1 epochs": ({"precision": "bfloat16"}, None),
    "bfloat16, 1.2 epochs": ({"precision": "bfloat16", "epochs": 1.2}, None),
    "batch 512, lr 0.04": ({"batch_size": 512, "lr": 0.04}, None),
    "Muon (0.05, momentum 0.9), 1.0 epochs": ({**MUON, "epochs": 1.0}, None),
    "Muon (0.05, momentum 0.9), 0.9 epochs": ({**MUON, "epochs": 0.9}, None),
    "Muon (0.08, momentum 0.9), 0.8 epochs": ({**MUON, "muon_lr": 0.08, "epochs": 0.8}, None),
    "Muon (0.08, momentum 0.85), 0.75 epochs": ({**FAST_MUON, "momentum": 0.85, "epochs": 0.75}, None),
    "Muon (0.08, momentum 0.85), 0.7 epochs": ({**FAST_MUON, "momentum": 0.85, "epochs": 0.7}, None),
    "Muon (0.08, momentum 0.8), 0.7 epochs": ({**FAST_MUON, "epochs": 0.7}, None),
    "Muon (0.08, momentum 0.8), 0.65 epochs": ({**FAST_MUON, "epochs": 0.65}, None),
    "Muon (0.08, momentum 0.8), no label smoothing, 0.7 epochs": ({**FAST_MUON, "label_smoothing": 0.0, "epochs": 0.7}, None),
    "Muon (0.08, momentum 0.8), bfloat16, 0.7 epochs": ({**FAST_MUON, "precision": "bfloat16", "epochs": 0.7}, None),
    "Muon (0.08, momentum 0.8), bfloat16, 0.6 epochs": ({**FAST_MUON, "precision": "bfloat16", "epochs": 0.6}, None),
    "adaptive last pool (for resizing), 1.1 epochs": ({}, variants.PooledHead),
    "the same, first half of the steps at 20x20": ({}, lambda: variants.Progressive(variants.PooledHead(), 20, HALF)),
    "the same, first half of the steps at 14x14": ({}, lambda: variants.Progressive(variants.PooledHead(), 14, HALF)),
    "stem pooled to 7x7 (0.7 of the work), 1.1 epochs": ({}, variants.CheaperStem),
    "stem pooled to 7x7, Muon (0.08, momentum 0.8), 0.8 epochs": ({**FAST_MUON, "epochs": 0.8}, variants.CheaperStem),
}


def candidates(name: str, seeds: list[int], data: dict) -> str:
    """Each candidate on each seed, taking turns seed by seed (the machine's moods fall on all of them),
    trained and validated on data's train and val splits; the choice printed; then the test split read
    and the table of validation (which chose), seconds and test accuracy returned."""
    recipe = recipes()[name]
    runs: dict[str, list[dict]] = {label: [] for label in CANDIDATES}
    for seed in seeds:
        for label, (changes, network) in CANDIDATES.items():
            train = dataclasses.replace(recipe.train, **{**BEFORE, **changes})
            run = train_recipe(name, dataclasses.replace(recipe, train=train), data, seed, network)
            runs[label].append(run)
            print(f"seed {seed}, {label}: validation {run['val_accuracy']:.2%}, {run['seconds']:.2f} s", flush=True)
    chosen = choose(runs)
    print(f"chosen on validation: {chosen}", flush=True)
    test = prepared_data(("test",))["test"]
    lines = [f"On {machine_label()}, {torch.get_num_threads()} threads, taking turns seed by seed:", "",
             "| candidate | validation per seed | lowest validation | seconds (median) | seconds per seed | test (mean) |",
             "| --- | --- | ---: | ---: | --- | ---: |"]
    for label, results in runs.items():
        vals, seconds = [r["val_accuracy"] for r in results], [r["seconds"] for r in results]
        tests = [score_on_test(r["model"], test) for r in results]
        lines.append(f"| {label} | {' / '.join(f'{v:.2%}' for v in vals)} | {min(vals):.2%} | "
                     f"{statistics.median(seconds):.2f} | {' / '.join(f'{s:.2f}' for s in seconds)} | "
                     f"{statistics.mean(tests):.2%} |")
    return "\n".join(lines + ["", f"Chosen on validation: {chosen}."])


BFLOAT16_GAIN = 1.2  # bfloat16 makes results depend on the instruction set too: worth it from 1.2x on


def float32_twin(label: str) -> str | None:
    """The candidate that is `label` in float32, where label trains in bfloat16 and one is listed."""
    changes, network = CANDIDATES[label]
    if changes.get("precision") != "bfloat16":
        return None
    return next((other for other, (theirs, net) in CANDIDATES.items() if net is network
                 and theirs.get("precision", "float32") == "float32" and {**theirs, "precision": "bfloat16"} == changes), None)


def choose(runs: dict[str, list[dict]]) -> str:
    """The fastest candidate (median seconds) whose validation accuracy reaches TARGET on every seed, or
    a line saying none does; a bfloat16 candidate counts only where it is at least BFLOAT16_GAIN times
    as fast as its float32 twin that also reaches it (without one, it cannot show its gain)."""
    def median_s(label: str) -> float:
        return statistics.median(r["seconds"] for r in runs[label])

    reaching = [label for label, results in runs.items() if min(r["val_accuracy"] for r in results) >= TARGET]
    if not reaching:
        return f"none reaches {TARGET:.1%} validation on every seed"
    set_aside = [label for label in reaching if CANDIDATES[label][0].get("precision") == "bfloat16"
                 and not ((twin := float32_twin(label)) in reaching and median_s(twin) / median_s(label) >= BFLOAT16_GAIN)]
    best = min((label for label in reaching if label not in set_aside), key=median_s)
    def gain(label: str) -> str:
        twin = float32_twin(label)
        return f"{median_s(twin) / median_s(label):.2f}x its float32 twin" if twin in reaching else "no float32 twin reaching it"

    aside = f"; set aside: {', '.join(f'{label} ({gain(label)})' for label in set_aside)}" if set_aside else ""
    return (f"{best} (the fastest, {median_s(best):.2f} s median, of the {len(reaching)} reaching {TARGET:.1%} "
            f"validation on every seed; bfloat16 only from {BFLOAT16_GAIN:g}x its float32 twin{aside})")


def train_recipe(name: str, recipe, data: dict, seed: int, network: Callable | None = None) -> dict:
    """Seconds of training (fit, validation included), the best validation accuracy and its epoch,
    and the model with the weights kept there (as the train stage keeps them), and their test
    accuracy where data holds the test split."""
    train = dataclasses.replace(recipe.train, seed=seed)
    set_threads(train.threads)
    make_deterministic(seed)
    model = network() if network else build_model(name, **recipe.hyperparameters)
    run = fit(model, *data["train"], *data["val"], train, log=lambda line: None)
    model.load_state_dict(run.best_state)
    result = {"seconds": round(run.seconds, 2), "val_accuracy": run.best.val_accuracy, "best_epoch": run.best.epoch,
              "model": model}
    return result | ({"test_accuracy": score_on_test(model, data["test"])} if "test" in data else {})


ANCHOR_LENGTHS = [round(1 + i / 10, 1) for i in range(21)]  # 1.0 .. 3.0 epochs, in tenths as model_4's was chosen


def anchor_length(seeds: list[int], data: dict, lengths: list[float] = ANCHOR_LENGTHS) -> float:
    """The anchor's shortest length, in tenths of an epoch, whose validation accuracy reaches TARGET on
    every seed: the rule that chose model_4's. Prints each length tried and the choice."""
    for epochs in lengths:
        vals = [train_anchor(*data["train"], *data["val"], epochs, seed)["val_accuracy"] for seed in seeds]
        print(f"anchor, {plural(epochs, 'epoch')}: validation {' / '.join(f'{v:.2%}' for v in vals)}", flush=True)
        if min(vals) >= TARGET:
            print(f"anchor chosen on validation: {plural(epochs, 'epoch')} (the shortest reaching {TARGET:.1%} on every "
                  "seed)", flush=True)
            return epochs
    raise SystemExit(f"the anchor reaches {TARGET:.1%} validation on every seed at none of {lengths[0]:g} to "
                     f"{lengths[-1]:g} epochs")


def anchor_label(epochs: float) -> str:
    return f"anchor ({epochs:g} epoch{'s' if epochs != 1 else ''})"


def race(name: str, seeds: list[int], data: dict, anchor_epochs: float) -> dict:
    """contender -> {"seconds", "val_accuracy", "test_accuracy"}: one entry per seed, taking turns seed by
    seed: the model's recipe, the anchor at its shortest 99% length, at 1 epoch (as published) and at 2.
    data holds train and val; the test split is read once every contender has trained on every seed."""
    recipe = recipes()[name]
    set_threads(recipe.train.threads)
    contenders = {f"{name} ({recipe.train.epochs:g} epochs)": lambda seed: train_recipe(name, recipe, data, seed)}
    for epochs in dict.fromkeys([anchor_epochs, 1.0, 2.0]):
        contenders[anchor_label(epochs)] = lambda seed, epochs=epochs: train_anchor(*data["train"], *data["val"], epochs, seed)
    runs: dict = {contender: {"seconds": [], "val_accuracy": [], "models": []} for contender in contenders}
    for seed in seeds:
        for contender, train in contenders.items():
            result = train(seed)
            for key, value in (("seconds", result["seconds"]), ("val_accuracy", result["val_accuracy"]),
                               ("models", result["model"])):
                runs[contender][key].append(value)
            print(f"seed {seed}, {contender}: {result['seconds']:.2f} s, validation {result['val_accuracy']:.2%}", flush=True)
    test = prepared_data(("test",))["test"]
    for results in runs.values():
        results["test_accuracy"] = [score_on_test(model, test) for model in results.pop("models")]
    return runs


def headline(race_result: dict, anchor_epochs: float) -> str:
    """The model against the anchor's shortest recipe reaching 99% validation on every seed."""
    (model, *_), anchor = race_result, race_result[anchor_label(anchor_epochs)]
    ours, theirs = (statistics.median(race_result[model]["seconds"]), statistics.median(anchor["seconds"]))
    reaches = min(race_result[model]["val_accuracy"]) >= TARGET
    return (f"{model} {'reaches' if reaches else 'does NOT reach'} {TARGET:.1%} validation accuracy on every seed in "
            f"{ours:.2f} s (median), the anchor's shortest such recipe ({anchor_epochs:g} epochs) in {theirs:.2f} s: "
            f"**{theirs / ours:.2f}x** sooner.")


def race_table(race_result: dict, threads: int, anchor_epochs: float) -> str:
    lines = [f"Training seconds on {threads} threads of {machine_label()} (model_4's with its validation passes, the "
             "anchor's without), validation and test accuracy per seed, taking turns in one run "
             "(`python -m benchmarks.time_to_accuracy`); the test split is read once all have trained:", "",
             "| recipe | seconds (median) | seconds per seed | validation per seed | test accuracy (mean) | test per seed |",
             "| --- | ---: | --- | --- | ---: | --- |"]
    for contender, runs in race_result.items():
        cells = [" / ".join(f"{s:.2f}" for s in runs["seconds"]),
                 " / ".join(f"{a:.2%}" for a in runs["val_accuracy"]),
                 " / ".join(f"{a:.2%}" for a in runs["test_accuracy"])]
        lines.append(f"| {contender} | {statistics.median(runs['seconds']):.2f} | {cells[0]} | {cells[1]} | "
                     f"{statistics.mean(runs['test_accuracy']):.2%} | {cells[2]} |")
    return "\n".join(lines + ["", headline(race_result, anchor_epochs)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="model_4", help="the project's model to race (default: model_4)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--candidates", action="store_true", help="train model_4's candidate recipes instead")
    parser.add_argument("--anchor-epochs", type=float, metavar="E",
                        help="race the anchor at E epochs instead of choosing its length on validation first")
    parser.add_argument("--docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    if args.candidates:
        table = candidates(args.model, args.seeds, prepared_data(("train", "val")))
        print("\n" + table)
        if args.docs:
            replace_block(ROOT / "docs" / "performance.md", "time-to-99-candidates", table + "\n")
        return
    data = prepared_data(("train", "val"))
    anchor_epochs = args.anchor_epochs or anchor_length(args.seeds, data)
    result = race(args.model, args.seeds, data, anchor_epochs)
    table = race_table(result, torch.get_num_threads(), anchor_epochs)
    print("\n" + table)
    record({"time_to_99": {"threads": torch.get_num_threads(), "seeds": args.seeds, "anchor_epochs": anchor_epochs,
                           "recipes": result}})
    if args.docs:
        replace_block(ROOT / "docs" / "performance.md", "time-to-99", table + "\n")


if __name__ == "__main__":
    main()
