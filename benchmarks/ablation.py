"""The ablation in docs/models.md's "Ablation": what augmentation, the schedule and the optimizer each add
to model_2 and model_3, each row on two seeds, run as queued DVC experiments.

    python -m benchmarks.ablation queue [ROW ...]   # queue every row (or these) x seed (dvc exp run --queue)
    dvc queue start                         # one at a time: trainings share the cores
    python -m benchmarks.ablation table     # mean validation (chooses) and test (reported) per row

Rows are chosen and compared on validation accuracy; test accuracy is shown, never used to choose.
"""

import json
import statistics
import subprocess
import sys

AUGMENT = {"augment_rotate": 10, "augment_translate": 0.1, "augment_scale": 0.1}
NO_AUGMENT = {"augment_rotate": 0, "augment_translate": 0.0, "augment_scale": 0.0}
SEEDS = (1, 2)

# model_2: cumulative steps from the seed recipe. model_3: its recipe, then one part taken out or swapped.
ROWS = {
    "m2-seed": ("model_2", {}),
    "m2-aug": ("model_2", AUGMENT),
    "m2-aug-onecycle": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01}),
    "m2-aug-onecycle-20ep": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "epochs": 20}),
    "m2-aug-onecycle-nodrop": ("model_2", {**AUGMENT, "schedule": "onecycle", "lr": 0.01, "dropout": 0.0}),
    "m3-recipe": ("model_3", {}),
    "m3-no-aug": ("model_3", NO_AUGMENT),
    "m3-plateau": ("model_3", {"schedule": "plateau", "lr": 0.001}),
    "m3-sgd": ("model_3", {"optimizer": "sgd", "lr": 0.1, "weight_decay": 0.0005}),
}


def queue(rows: list[str]) -> None:
    for row, (model, overrides) in ROWS.items():
        if rows and row not in rows:
            continue
        for seed in SEEDS:
            sets = [f"++models.{model}.{key}={value}" for key, value in {**overrides, "seed": seed}.items()]
            command = ["dvc", "exp", "run", "--queue", "--name", f"{row}-s{seed}"]
            subprocess.run([*command, *(arg for s in sets for arg in ("-S", s))], check=True)


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
            train = metrics.get(f"metrics/{model}/train.json", {}).get("data", {})
            evaluation = metrics.get(f"metrics/{model}/eval.json", {}).get("data", {})
            if "best_val_accuracy" in train and "test_accuracy" in evaluation:
                found[name] = {"val": train["best_val_accuracy"], "test": evaluation["test_accuracy"]}
    return found


def table() -> str:
    found = experiments()
    lines = ["| row | model | changes | seeds | validation (mean) | test (mean) | test per seed |",
             "| --- | --- | --- | ---: | ---: | ---: | --- |"]
    for row, (model, overrides) in ROWS.items():
        runs = [found[f"{row}-s{seed}"] for seed in SEEDS if f"{row}-s{seed}" in found]
        if not runs:
            continue
        changes = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "(as params.yaml)"
        val = statistics.mean(r["val"] for r in runs)
        test = statistics.mean(r["test"] for r in runs)
        per_seed = " / ".join(f"{r['test']:.2%}" for r in runs)
        lines.append(f"| `{row}` | {model} | {changes} | {len(runs)} | {val:.2%} | {test:.2%} | {per_seed} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["queue"]:
        queue(sys.argv[2:])
    elif sys.argv[1:] == ["table"]:
        print(table())
    else:
        sys.exit(__doc__)
