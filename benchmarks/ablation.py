"""The ablation in docs/models.md's "Ablation": what augmentation, the schedule, the optimizer and a
weight average each add to model_2 and model_3, each row on two seeds.

    python -m benchmarks.ablation run ROW [ROW ...]   # in this process, one after another (needs `dvc repro preprocess`)
    python -m benchmarks.ablation queue [ROW ...]     # or as queued DVC experiments (dvc exp run --queue) ...
    dvc queue start                                   # ... one at a time: trainings share the cores
    python -m benchmarks.ablation table [--docs]      # mean validation (chooses) and test (reported) per row

`run` trains each row's recipe (params.yaml's, with the row's changes and each random seed) through the
pipeline's own `fit`, keeps the weights of the best validation epoch as the train stage does, and
records in benchmarks/ablation.json validation and test accuracy, and how many of 500 validation
digits predict reads in the 8x8 low-resolution control (benchmarks/predict_controls.py). Rows are
chosen and compared on validation accuracy and that control; test accuracy is shown, never used to choose.
"""

import dataclasses
import json
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).with_name("ablation.json")

AUGMENT = {"augment_rotate": 10, "augment_translate": 0.1, "augment_scale": 0.1}
LIGHT_AUGMENT = {"augment_rotate": 5, "augment_translate": 0.05, "augment_scale": 0.05}
NO_AUGMENT = {"augment_rotate": 0, "augment_translate": 0.0, "augment_scale": 0.0}
SEEDS = (1, 2)
LOW_RES_CONTROL = "8x8 pixels on the digit, enlarged"  # the control the pictures people take fell short on

# Each row changes its model's base recipe: params.yaml's, with BASES on top, so that a row means
# the same recipe whatever params.yaml has adopted since. model_2: the original project's recipe; model_3: its
# recipe before the weight average (Adam, OneCycle to 0.01, augmentation, 20 epochs).
BASES = {
    "model_2": {"dropout": 0.2, "lr": 0.003, "schedule": "plateau", **NO_AUGMENT, "ema": 0.0, "label_smoothing": 0.0,
                "augment_low_res": 0.0},
    "model_3": {"lr": 0.01, "schedule": "onecycle", **AUGMENT, "ema": 0.0, "label_smoothing": 0.0, "augment_low_res": 0.0},
}
# model_3's recipe as params.yaml has it since the low-resolution rows chose it; the rows after it change one part.
M3_LOW_RES = {"ema": 0.999, "label_smoothing": 0.1, "lr": 0.02, "augment_low_res": 0.25}
# model_2's recipe after the light-augmentation row chose it; params.yaml's since adds the last row's AdamW and 20 epochs.
M2_LIGHT = {**LIGHT_AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0}
# model_2: cumulative steps from the original project's recipe. model_3: its recipe, then one part taken out or swapped.
ROWS = {
    "m2-seed": ("model_2", {}),
    "m2-aug": ("model_2", AUGMENT),
    "m2-aug-onecycle": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01}),
    "m2-aug-onecycle-20ep": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "epochs": 20}),
    "m2-aug-onecycle-nodrop": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0}),
    "m2-aug-onecycle-nodrop-20ep": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0, "epochs": 20}),
    "m2-aug-onecycle-nodrop-batch64": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0, "batch_size": 64}),
    "m2-aug-onecycle-nodrop-ema": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0, "ema": 0.999}),
    "m2-aug-onecycle-nodrop-ema-20ep": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0, "ema": 0.999,
                                                    "epochs": 20}),
    "m2-light-aug-onecycle-nodrop": ("model_2", {**LIGHT_AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0}),
    "m2-aug-onecycle-nodrop-lr0.02": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.02, "dropout": 0.0}),
    "m2-aug-onecycle-nodrop-smoothing": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0,
                                                     "label_smoothing": 0.1}),
    # On model_2's committed recipe (light augmentation, OneCycle to 0.01, no dropout), one part changed;
    # run on an Intel Xeon, as its base row was rerun there (the full-augmentation rows above ran on an AMD EPYC).
    "m2-light-aug-onecycle-nodrop-ema": ("model_2", {**M2_LIGHT, "ema": 0.999}),
    "m2-light-aug-onecycle-nodrop-20ep": ("model_2", {**M2_LIGHT, "epochs": 20}),
    "m2-light-aug-onecycle-nodrop-smoothing": ("model_2", {**M2_LIGHT, "label_smoothing": 0.1}),
    "m2-light-aug-onecycle-nodrop-lr0.005": ("model_2", {**M2_LIGHT, "lr": 0.005}),
    "m2-light-aug-onecycle-nodrop-lr0.02": ("model_2", {**M2_LIGHT, "lr": 0.02}),
    "m2-light-aug-onecycle-nodrop-batch64": ("model_2", {**M2_LIGHT, "batch_size": 64}),
    "m2-light-aug-onecycle-nodrop-ema-20ep": ("model_2", {**M2_LIGHT, "ema": 0.999, "epochs": 20}),
    "m2-onecycle-nodrop": ("model_2", {"schedule": "onecycle", "lr": 0.01, "dropout": 0.0}),
    "m2-light-aug-onecycle-nodrop-30ep": ("model_2", {**M2_LIGHT, "epochs": 30}),
    "m2-light-aug-onecycle-nodrop-adamw": ("model_2", {**M2_LIGHT, "optimizer": "adamw", "weight_decay": 0.05}),
    "m2-light-aug-onecycle-nodrop-low-res": ("model_2", {**M2_LIGHT, "augment_low_res": 0.25}),
    "m2-light-aug-onecycle-nodrop-adamw-wd0.1": ("model_2", {**M2_LIGHT, "optimizer": "adamw", "weight_decay": 0.1}),
    "m2-light-aug-onecycle-nodrop-adamw-20ep": ("model_2", {**M2_LIGHT, "optimizer": "adamw", "weight_decay": 0.05, "epochs": 20}),
    "m3-recipe": ("model_3", {}),
    "m3-no-aug": ("model_3", NO_AUGMENT),
    "m3-plateau": ("model_3", {"schedule": "plateau", "lr": 0.001}),
    "m3-sgd": ("model_3", {"optimizer": "sgd", "lr": 0.1, "weight_decay": 0.0005}),
    "m3-ema": ("model_3", {"ema": 0.999}),
    "m3-ema-batch64": ("model_3", {"ema": 0.999, "batch_size": 64}),
    "m3-ema-smoothing": ("model_3", {"ema": 0.999, "label_smoothing": 0.1}),
    "m3-ema-smoothing-rotate15": ("model_3", {"ema": 0.999, "label_smoothing": 0.1, "augment_rotate": 15}),
    "m3-ema-smoothing-lr0.02": ("model_3", {"ema": 0.999, "label_smoothing": 0.1, "lr": 0.02}),
    "m3-ema-smoothing-lr0.02-lowres0.1": ("model_3", {**M3_LOW_RES, "augment_low_res": 0.1}),
    "m3-ema-smoothing-lr0.02-lowres0.25": ("model_3", M3_LOW_RES),
    "m3-ema-smoothing-lr0.02-lowres0.5": ("model_3", {**M3_LOW_RES, "augment_low_res": 0.5}),
    "m3-ema-smoothing-lr0.03-lowres0.25": ("model_3", {**M3_LOW_RES, "lr": 0.03}),
    "m3-ema-smoothing-lr0.04-lowres0.25": ("model_3", {**M3_LOW_RES, "lr": 0.04}),
    "m3-ema-smoothing-lr0.02-lowres0.25-adamw0.05": ("model_3", {**M3_LOW_RES, "optimizer": "adamw", "weight_decay": 0.05}),
    "m3-ema-smoothing-lr0.02-lowres0.25-warmup0.4": ("model_3", {**M3_LOW_RES, "warmup": 0.4}),
    "m3-ema-smoothing-lr0.02-lowres0.25-batch64": ("model_3", {**M3_LOW_RES, "batch_size": 64}),
    "m3-ema-smoothing-lr0.02-lowres0.25-light-aug": ("model_3", {**M3_LOW_RES, **LIGHT_AUGMENT}),
    "m3-ema0.9995-smoothing-lr0.02-lowres0.25": ("model_3", {**M3_LOW_RES, "ema": 0.9995}),
    "m3-ema0.998-smoothing-lr0.02-lowres0.25": ("model_3", {**M3_LOW_RES, "ema": 0.998}),
    # The rows above ran on model_3's first architecture (full 3x3 convs, 7,578 parameters); these
    # on its depthwise-separable layers (7,514): the recipe unchanged, then one part changed.
    "m3-separable": ("model_3", M3_LOW_RES),
    "m3-separable-batch64": ("model_3", {**M3_LOW_RES, "batch_size": 64}),
    "m3-separable-rotate15": ("model_3", {**M3_LOW_RES, "augment_rotate": 15}),
    "m3-separable-lr0.03": ("model_3", {**M3_LOW_RES, "lr": 0.03}),
    # On model_3's layers since: a separable 16->16 layer at 28x28 added (7,946 parameters). Run on an
    # Intel Xeon (the rows above on an AMD EPYC), before the layer was model_3's, as a variant through this `fit`.
    "m3-separable28": ("model_3", M3_LOW_RES),
}


def queue(rows: list[str]) -> None:
    for row, (model, overrides) in ROWS.items():
        if rows and row not in rows:
            continue
        for seed in SEEDS:
            sets = [f"++models.{model}.{key}={value}" for key, value in {**BASES[model], **overrides, "seed": seed}.items()]
            command = ["dvc", "exp", "run", "--queue", "--name", f"{row}-s{seed}"]
            subprocess.run([*command, *(arg for s in sets for arg in ("-S", s))], check=True)


def run(rows: list[str]) -> None:
    """Train each row on each seed here, recording its figures as each ends."""
    import torch

    from benchmarks.common import record, recipes
    from benchmarks.predict_controls import single_control
    from benchmarks.time_to_accuracy import prepared_data, train_recipe
    from mnist_pipeline.core import paths
    from mnist_pipeline.core.mnist import MEAN, STD
    from mnist_pipeline.data.splits import load_split
    from mnist_pipeline.predict import Reader
    from mnist_pipeline.training.architectures import count_parameters

    data = prepared_data()
    val = load_split(paths.prepared_split("val"))
    for row in rows:
        model, changes = ROWS[row]
        overrides = {**BASES[model], **changes}
        recipe = recipes()[model]
        hyperparameters = {**recipe.hyperparameters, **{k: v for k, v in overrides.items() if k in recipe.hyperparameters}}
        train = dataclasses.replace(recipe.train, **{k: v for k, v in overrides.items() if k not in recipe.hyperparameters})
        for seed in SEEDS:
            result = train_recipe(model, dataclasses.replace(recipe, train=train, hyperparameters=hyperparameters), data, seed)
            reader = Reader(result["model"], {"mean": MEAN, "std": STD}, torch.device("cpu"))
            low_res = single_control(reader, LOW_RES_CONTROL, val.images.numpy(), val.labels.tolist(), 500)
            entry = {"val": result["val_accuracy"], "test": result["test_accuracy"], "best_epoch": result["best_epoch"],
                     "low_res_val": low_res, "parameters": count_parameters(result["model"])}
            record({f"{row}-s{seed}": entry}, RESULTS)
            print(f"{row}-s{seed}: {json.dumps(entry)}", flush=True)


def experiments() -> dict[str, dict]:
    """name -> {"val": best validation accuracy, "test": test accuracy} of each finished experiment."""
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json", "--all-commits"], check=True, capture_output=True,
                                      text=True).stdout)
    found = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            name, state = exp.get("name") or "", (exp.get("executor") or {}).get("state", "success")
            row = ROWS.get(name.rsplit("-s", 1)[0])
            if row is None or state != "success":  # queued, running or failed
                continue
            metrics = exp["revs"][0]["data"].get("metrics") or {}
            model = row[0]
            # Today's metric file, or the two that held these figures when the first rows were run.
            scores = metrics.get(f"metrics/scores/{model}.json", {}).get("data", {})
            train = metrics.get(f"metrics/{model}/train.json", {}).get("data", {}) or scores
            evaluation = metrics.get(f"metrics/{model}/eval.json", {}).get("data", {}) or scores
            if "best_val_accuracy" in train and "test_accuracy" in evaluation:
                found[name] = {"val": train["best_val_accuracy"], "test": evaluation["test_accuracy"]}
    return found


def table(found: dict[str, dict]) -> str:
    """Mean validation and test accuracy per row, for the rows found (name-s<seed> -> val, test), and
    the model's parameter count where the runs recorded it (model_3's architecture changed between rows)."""
    counted = any("parameters" in r for r in found.values())
    columns = {"row": "---", "model": "---", **({"parameters": "---:"} if counted else {}), "changes": "---",
               "seeds": "---:", "validation (mean)": "---:", "8x8 control on validation digits (mean)": "---:",
               "test (mean)": "---:", "test per seed": "---"}
    lines = [f"| {' | '.join(columns)} |", f"| {' | '.join(columns.values())} |"]
    for row, (model, overrides) in ROWS.items():
        runs = [found[f"{row}-s{seed}"] for seed in SEEDS if f"{row}-s{seed}" in found]
        if not runs:
            continue
        changes = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "(the base recipe)"
        val = statistics.mean(r["val"] for r in runs)
        test = statistics.mean(r["test"] for r in runs)
        per_seed = " / ".join(f"{r['test']:.2%}" for r in runs)
        low_res = f"{statistics.mean(r['low_res_val'] for r in runs):.1%}" if all("low_res_val" in r for r in runs) else "-"
        parameters = f" {runs[0]['parameters']:,} |" if counted else ""
        lines.append(f"| `{row}` | {model} |{parameters} {changes} | {len(runs)} | {val:.2%} | {low_res} | {test:.2%} | {per_seed} |")
    return "\n".join(lines)


def tables(docs: bool) -> None:
    """The rows run as DVC experiments (block `ablation`) and those run here (block `ablation-runs`);
    with docs, written into docs/models.md (a block with no rows found is left as it is)."""
    from benchmarks.common import recorded
    from mnist_pipeline.readme import replace_block

    for block, found in (("ablation", experiments()), ("ablation-runs", recorded(RESULTS))):
        text = table(found)
        print(text + "\n")
        if docs and found:
            replace_block(Path(__file__).resolve().parent.parent / "docs" / "models.md", block, text + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["queue"]:
        queue(sys.argv[2:])
    elif sys.argv[1:2] == ["run"] and sys.argv[2:] and set(sys.argv[2:]) <= set(ROWS):
        run(sys.argv[2:])
    elif sys.argv[1:2] == ["table"] and sys.argv[2:] in ([], ["--docs"]):
        tables(docs=sys.argv[2:] == ["--docs"])
    else:
        sys.exit(__doc__)
