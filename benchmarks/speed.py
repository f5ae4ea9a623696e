"""Training speed, memory and pipeline wall time, all measured in one run on one machine.

    python -m benchmarks.speed --mirror /path/to/mnist-gz-folder [--docs]
    python -m benchmarks.speed --images 1000 --models model_4 --no-contention   # a quick check that it runs

Needs the prepared data in the workspace (`dvc repro` or `dvc pull` first). Times each loop for
--epochs epochs (5 unless asked, after a warm-up), each model at its recipe's batch size, and
reports each epoch time's median and range and each ratio's median and range over the epochs
(the loops take turns, so epoch i of one is compared with epoch i of the other). Prints a table,
writes benchmarks/results.json, and with --docs rewrites the table in docs/performance.md. The
`dvc repro -f` figures come from a throwaway copy of the project, so the workspace is untouched.
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch.utils.data import Subset
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from benchmarks import contention
from benchmarks.ablation import AUGMENT, NO_AUGMENT
from benchmarks.common import ROOT, machine, recipes, record
from benchmarks.seed_reference import WHAT as SEED_REFERENCE, seed_dataset, seed_loader, seed_train_epoch
from benchmarks.time_to_accuracy import TARGET, prepared_data, time_to_accuracy
from mnist_pipeline.core import paths
from mnist_pipeline.core.machine import describe_cpu
from mnist_pipeline.core.params import TrainParams, load_params, preprocess_params
from mnist_pipeline.data.splits import Split, load_split, normalize
from mnist_pipeline.readme import replace_block
from mnist_pipeline.training.architectures import build_model
from mnist_pipeline.training.loop import train_epoch, training_layout
from mnist_pipeline.training.optim import make_optimizer

PERFORMANCE_DOC = ROOT / "docs" / "performance.md"


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Median float32 n x n matrix-product throughput."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def conv_backward_flop(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                       _output_padding, _groups, output_mask, **kwargs) -> int:
    """A convolution's backward FLOPs: each gradient it computes (input, weight) costs what its
    forward did. torch's own formula leaves groups out and so counts a depthwise convolution's
    backward as a full convolution's (channels times too much)."""
    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def training_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Forward and backward FLOPs of one training step on this batch (matmuls and convolutions)."""
    with FlopCounterMode(display=False, custom_mapping={torch.ops.aten.convolution_backward: conv_backward_flop}) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops()


def flops_per_image(name: str, hyperparameters: dict, batch_size: int) -> float:
    """Forward and backward FLOPs of one training step, per image (matmuls and convolutions)."""
    model = build_model(name, **hyperparameters)
    x, y = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    return training_flops(model, x, y) / batch_size


def unfused(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The recipe's optimizer stepping without fused kernels (torch's, and Muon's Adam part): each
    loop times the same algorithm, whatever the recipe's optimizer."""
    for group in optimizer.param_groups:
        if "fused" in group:
            group["fused"] = False
    return optimizer


class Contender:
    """One way of training a model for an epoch, with its own model, optimizer and data."""

    def __init__(self, name: str, hyperparameters: dict, kind: str, split, seed_data, params: TrainParams):
        torch.manual_seed(params.seed)
        self.kind, self.times = kind, []
        self.model = build_model(name, **hyperparameters)
        if kind == "seed-style":
            self.optimizer = unfused(make_optimizer(self.model, params))
            self.loader = seed_loader(seed_data, params.batch_size, params.seed)
            self.run = lambda: seed_train_epoch(self.model, self.optimizer, self.loader)
            return
        x = normalize(split.images)
        # Augmentation off, as in the original project, except for the row that times it (model_3's settings).
        loop_params = dataclasses.replace(params, **(AUGMENT if kind == "augmented" else NO_AUGMENT))
        if kind in ("project", "augmented"):
            self.model, x = training_layout(self.model, x)
            self.optimizer = make_optimizer(self.model, params)
        else:  # "unoptimized": the same loop and optimizer, in the default layout and without fused steps
            self.optimizer = unfused(make_optimizer(self.model, params))
        generator = torch.Generator().manual_seed(params.seed)
        self.run = lambda: train_epoch(self.model, self.optimizer, x, split.labels, loop_params, generator)

    def time_epoch(self) -> None:
        start = time.perf_counter()
        self.run()
        self.times.append(time.perf_counter() - start)


def epoch_times(name: str, hyperparameters: dict, split, seed_data, params: TrainParams, epochs: int) -> dict:
    """Per-epoch seconds of each contender, taking turns epoch by epoch; the first is warm-up.
    split feeds the project's loops, seed_data (the same images, torchvision's MNIST) the original project's."""
    kinds = ("project", "augmented", "unoptimized", "seed-style")
    contenders = [Contender(name, hyperparameters, kind, split, seed_data, params) for kind in kinds]
    for epoch in range(epochs + 1):
        for contender in contenders:
            contender.time_epoch()
            print(f"  {name} {contender.kind}: epoch {epoch} {contender.times[-1]:.2f} s", flush=True)
    return {c.kind: c.times[1:] for c in contenders}


def _run(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: `{' '.join(cmd)}` failed in {cwd}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - start


def output_hashes(lock: Path) -> dict:
    """{(stage, output path): md5} from a dvc.lock."""
    stages = yaml.safe_load(lock.read_text())["stages"]
    return {(stage, out["path"]): out["md5"] for stage, entry in stages.items() for out in entry.get("outs", [])}


# Loaded by every Python process of the timed `dvc repro -f` (PYTHONPATH): each stage's wall time,
# so that the fixed cost splits into what the stages do and what DVC does between them.
STAGE_CLOCK = """import atexit, os, sys, time
_start = time.time()
def _log():  # sys.argv names the stage module only once `python -m` has found it
    if sys.argv and os.path.basename(os.path.dirname(sys.argv[0])) in ("stages", "crossval"):
        with open({log!r}, "a") as f:
            f.write(f"{{_start}} {{time.time()}} {{sys.argv[0]}}\\n")
atexit.register(_log)
"""

# Loaded by DVC (PYTHONPATH) to time it as it runs without ruamel.yaml.clib: ruamel.yaml then
# parses dvc.yaml and dvc.lock in pure Python, as it did before requirements.txt pinned the clib.
PURE_PYTHON_YAML = "import sys\nsys.modules['_ruamel_yaml'] = None  # makes `import _ruamel_yaml` fail\n"


def _with_sitecustomize(folder: Path, code: str, env: dict) -> dict:
    """env with `code` run at the start of every Python process (a sitecustomize on PYTHONPATH)."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(code)
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))}


def project_copy(copy: Path, mirror: str | None, rev: str | None = None) -> tuple[Path, dict]:
    """The project's files (tracked and untracked, not ignored; or those of git revision rev) copied
    to copy as a fresh git repository, and the environment to run DVC there with (the mirror, no
    analytics, a git author)."""
    if rev:
        copy.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(copy)], input=archive, check=True)
    files = [] if rev else subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for file in files:
        if (ROOT / file).is_file():
            (copy / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / file, copy / file)
    env = {
        **os.environ,
        **({"MNIST_MIRROR": str(Path(mirror).resolve()) if "://" not in mirror else mirror} if mirror else {}),
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "benchmark", "GIT_AUTHOR_EMAIL": "benchmark@localhost",
        "GIT_COMMITTER_NAME": "benchmark", "GIT_COMMITTER_EMAIL": "benchmark@localhost",
    }
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "benchmark copy"]):
        _run(cmd, copy, env)
    return copy, env


def pipeline_figures(mirror: str, models: list[str], noop_runs: int = 3) -> dict:
    """`dvc repro -f`, then no-op `dvc repro` and `dvc exp show` (with ruamel.yaml's C parser and
    without), wall times in a fresh copy of the project."""
    with tempfile.TemporaryDirectory() as tmp:
        copy, env = project_copy(Path(tmp) / "project", mirror)
        log = Path(tmp) / "stages.log"
        print("  dvc repro -f ...", flush=True)
        clocked = _with_sitecustomize(Path(tmp) / "clock", STAGE_CLOCK.format(log=str(log)), env)
        full = _run(["dvc", "repro", "-f"], copy, clocked)
        spans = [line.split(maxsplit=2)[:2] for line in log.read_text().splitlines()]
        stage_s = sum(float(end) - float(start) for start, end in spans)
        parsers = {"c": env, "pure": _with_sitecustomize(Path(tmp) / "pure_yaml", PURE_PYTHON_YAML, env)}
        commands = {"noop": ["dvc", "repro"], "exp_show": ["dvc", "exp", "show", "--no-pager"]}
        quick = {(c, parser): [] for c in commands for parser in parsers}
        for _ in range(noop_runs):  # side by side, taking turns
            for (c, parser), times in quick.items():
                times.append(_run(commands[c], copy, parsers[parser]))
        timing = {m: json.loads((copy / paths.timing(m)).read_text()) for m in models}
        accuracy = {m: json.loads((copy / paths.model_metrics(m, "eval.json")).read_text())["test_accuracy"] for m in models}
        outputs, workspace_outputs = output_hashes(copy / "dvc.lock"), output_hashes(ROOT / "dvc.lock")
    differing = [(stage, path) for (stage, path), md5 in outputs.items() if workspace_outputs.get((stage, path)) != md5]
    training = sum(timing[m]["train_seconds"] for m in models)  # epochs, validation included
    return {
        "dvc_repro_force_s": full,
        # Everything else: Python start-up and imports, verification, preprocessing, evaluation, DVC's work.
        "fixed_cost_s": full - training,
        "fixed_cost_per_model_s": (full - training) / len(models),
        "fixed_cost_in_stages_s": stage_s - training,  # inside the stage processes, after interpreter start-up
        "fixed_cost_dvc_s": full - stage_s,  # DVC's start-up, hashing, lock writes, starting each stage
        "dvc_repro_noop_s": statistics.median(quick["noop", "c"]),
        "yaml_c_parser": importlib.util.find_spec("_ruamel_yaml") is not None,  # else both runs are pure Python
        "dvc_repro_noop_pure_yaml_s": statistics.median(quick["noop", "pure"]),
        "dvc_exp_show_s": statistics.median(quick["exp_show", "c"]),
        "dvc_exp_show_pure_yaml_s": statistics.median(quick["exp_show", "pure"]),
        "train_peak_memory_mib": {m: timing[m].get("peak_memory_mib") for m in models},
        "train_seconds": {m: timing[m]["train_seconds"] for m in models},
        "test_accuracy": accuracy,
        "outputs": len(outputs),
        "outputs_differing_from_workspace": sorted(path for _, path in differing),
        "stages_differing_from_workspace": sorted({stage for stage, _ in differing}),
    }


def ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    """Epoch-by-epoch ratios of two loops' times (they took turns, so epoch i ran beside epoch i)."""
    return [a / b for a, b in zip(numerator, denominator)]


def measure(epochs: int, mirror: str | None, models: list[str] | None = None, share: bool = True,
            images: int | None = None) -> dict:
    split = load_split(paths.prepared_split("train"))
    held_out = preprocess_params(load_params())
    seed_data = seed_dataset(paths.RAW_DIR, held_out.val_size, held_out.seed)
    assert len(seed_data) == len(split), "data/raw and data/prepared disagree: run `dvc repro preprocess`"
    if images:  # the first images of both, the same ones in the same order
        split, seed_data = Split(split.images[:images], split.labels[:images]), Subset(seed_data, range(images))
    results = {"machine": machine(), "epochs_timed": epochs, "train_images": len(split), "models": {},
               "seed_style_reference": SEED_REFERENCE}
    peaks = [matmul_gflops()]
    for name, recipe in recipes().items():
        if models and name not in models:
            continue
        times = epoch_times(name, recipe.hyperparameters, split, seed_data, recipe.train, epochs)
        medians = {kind: statistics.median(t) for kind, t in times.items()}
        flops = flops_per_image(name, recipe.hyperparameters, recipe.train.batch_size) * len(split)
        per_epoch = {
            "vs_seed_style": ratios(times["seed-style"], times["project"]),
            "vs_unoptimized": ratios(times["unoptimized"], times["project"]),
            "pipeline_alone": ratios(times["seed-style"], times["unoptimized"]),
            "augmented": ratios(times["augmented"], times["project"]),
        }
        results["models"][name] = {
            "batch_size": recipe.train.batch_size,
            "epoch_s": medians,
            "epoch_s_all": times,
            "ratios_per_epoch": per_epoch,
            "speedup_vs_seed_style": statistics.median(per_epoch["vs_seed_style"]),
            "speedup_vs_unoptimized": statistics.median(per_epoch["vs_unoptimized"]),
            "speedup_pipeline_alone": statistics.median(per_epoch["pipeline_alone"]),
            "augmentation_cost": statistics.median(per_epoch["augmented"]) - 1,
            "gflop_per_epoch": flops / 1e9,
            "achieved_gflops": flops / 1e9 / medians["project"],
        }
        peaks.append(matmul_gflops())
    results["matmul_gflops"] = max(peaks)
    for figures in results["models"].values():
        figures["share_of_matmul_peak"] = figures["achieved_gflops"] / results["matmul_gflops"]
    data = prepared_data()
    if images:
        data["train"] = tuple(tensor[:images] for tensor in data["train"])
    results["time_to_accuracy"] = {"target": TARGET, "models": {
        name: time_to_accuracy(name, recipe, data, TARGET) for name, recipe in recipes().items() if name in results["models"]
    }}
    results["pipeline"] = pipeline_figures(mirror, list(results["models"])) if mirror else None
    if share:
        print("sharing the cores ...", flush=True)
        results["contention"] = contention.measure()
    return results


def spread(values: list[float], unit: str = " s", digits: int = 2) -> str:
    """'15.35 s (14.90 to 16.20)': the median and the range."""
    return f"{statistics.median(values):.{digits}f}{unit} ({min(values):.{digits}f} to {max(values):.{digits}f})"


def change(values: list[float]) -> str:
    """'+12% (-5% to +30%)': the median and range of ratios as changes."""
    return f"{statistics.median(values) - 1:+.0%} ({min(values) - 1:+.0%} to {max(values) - 1:+.0%})"


def table(results: dict) -> str:
    """The figures as docs/performance.md shows them."""
    per_model, mc, pipe = results["models"], results["machine"], results.get("pipeline")

    def row(label: str, cell) -> str:
        return f"| {label} | " + " | ".join(cell(name, figures) for name, figures in per_model.items()) + " |"

    lines = [
        f"Measured by `python -m benchmarks.speed` on {describe_cpu(mc['cpu_id']) if 'cpu_id' in mc else mc['cpu']}, "
        f"{mc['cores']} cores, torch {mc['torch']} "
        f"({mc['torch_threads']} threads). Epoch times are the median and, in brackets, the range of "
        f"{results['epochs_timed']} epochs over {results['train_images']:,} images after a warm-up epoch, the four "
        "loops taking turns; each ratio is the median and range of its epoch-by-epoch ratios.",
        "",
        "| | " + " | ".join(per_model) + " |",
        "| --- |" + " ---: |" * len(per_model),
        row("batch size (the model's recipe, in every loop)", lambda n, f: f"{f['batch_size']}" if "batch_size" in f else "-"),
        row("epoch, this project's loop", lambda n, f: _epoch(f, "project")),
        row("epoch, same loop without channels-last and fused Adam", lambda n, f: _epoch(f, "unoptimized")),
        row("epoch, this project's loop with augmentation (±10°, ±10%, ±10%)", lambda n, f: _epoch(f, "augmented")),
        row("augmentation's cost per epoch", lambda n, f: change(f["ratios_per_epoch"]["augmented"])
            if "ratios_per_epoch" in f else f"{f['augmentation_cost']:+.0%}"),
        row("epoch, the original project's torchvision pipeline", lambda n, f: _epoch(f, "seed-style")),
        row("**speed-up over the original project's pipeline**", lambda n, f: _ratio(f, "vs_seed_style", "speedup_vs_seed_style", bold=True)),
        row("the data pipeline alone (the original project's pipeline against the same loop without channels-last and fused Adam)",
            lambda n, f: _ratio(f, "pipeline_alone", "speedup_pipeline_alone")),
        row("channels-last and fused Adam (the unoptimized loop against this project's)",
            lambda n, f: _ratio(f, "vs_unoptimized", "speedup_vs_unoptimized")),
        row("training work per epoch", lambda n, f: f"{f['gflop_per_epoch']:.1f} GFLOP"),
        row(
            "achieved (share of the matmul peak)",
            lambda n, f: f"{f['achieved_gflops']:.1f} GFLOP/s ({f['share_of_matmul_peak']:.0%})",
        ),
    ]
    reached = (results.get("time_to_accuracy") or {}).get("models")
    if reached:
        target = results["time_to_accuracy"]["target"]
        lines += [
            row(f"training time to {target:.1%} validation accuracy, with its recipe",
                lambda n, f: f"{reached[n]['seconds']:.1f} s (epoch {reached[n]['epoch']})" if reached[n]["reached"]
                else f"not reached in {reached[n]['epochs']} epochs ({reached[n]['seconds']:.0f} s)"),
            row("test accuracy at that epoch",
                lambda n, f: f"{reached[n]['test_accuracy']:.2%}" if reached[n]["reached"] else "-"),
        ]
    if pipe:
        lines += [
            row("train stage peak memory", lambda n, f: f"{pipe['train_peak_memory_mib'][n]:.0f} MiB"),
            row("training epochs + validation in the train stage", lambda n, f: f"{pipe['train_seconds'][n]:.1f} s"),
            row("test accuracy after `dvc repro -f`", lambda n, f: f"{pipe['test_accuracy'][n]:.2%}"),
        ]
    lines += ["", f"float32 matrix product (2048 x 2048): **{results['matmul_gflops']:.0f} GFLOP/s**."]
    if "seed_style_reference" in results:
        lines += ["", f"The original project's pipeline: {results['seed_style_reference']} (shuffled, at the model's batch size: the "
                      f"original's is 128), over the same {results['train_images']:,} images."]
    if pipe:
        differing = pipe["outputs_differing_from_workspace"]
        lines.append(
            f"`dvc repro -f` in a fresh copy (download from a local mirror, every model, evaluate, report): "
            f"**{pipe['dvc_repro_force_s']:.0f} s**, of which **{pipe['fixed_cost_s']:.0f} s** is not training epochs "
            f"(start-up, imports, verification, preprocessing, evaluation, DVC's work); "
            f"no-op `dvc repro`: **{pipe['dvc_repro_noop_s']:.1f} s**{_pure(pipe, 'dvc_repro_noop')}; "
            + (f"`dvc exp show`: **{pipe['dvc_exp_show_s']:.1f} s**{_pure(pipe, 'dvc_exp_show')}; "
               if "dvc_exp_show_s" in pipe else "")
            + f"outputs byte-identical to those in the workspace's `dvc.lock`: "
            f"**{pipe['outputs'] - len(differing)} of {pipe['outputs']}**"
            + (f" (differing: {_differing(pipe)})." if differing else ".")
        )
        if "fixed_cost_dvc_s" in pipe:
            lines.append(
                f"The {pipe['fixed_cost_s']:.0f} s: **{pipe['fixed_cost_in_stages_s']:.0f} s** inside the stages' "
                f"processes (imports, verification, preprocessing, evaluation, the train stages' set-up and writes) "
                f"and **{pipe['fixed_cost_dvc_s']:.0f} s** in DVC (its start-up, hashing, writing `dvc.lock` after "
                f"each stage, starting each stage's interpreter)."
            )
    if results.get("contention"):
        lines += ["", *contention_table(results["contention"])]
    return "\n".join(lines)


def _epoch(figures: dict, kind: str) -> str:
    """One loop's epoch: median and range where every epoch was kept, else the median."""
    times = figures.get("epoch_s_all", {}).get(kind)
    return spread(times) if times else f"{figures['epoch_s'][kind]:.2f} s"


def _ratio(figures: dict, key: str, headline: str, bold: bool = False) -> str:
    """A speed-up: its median (bold for the headline) and its range over the epochs."""
    per_epoch = figures.get("ratios_per_epoch", {}).get(key)
    if headline not in figures:
        return "-"
    median = f"**{figures[headline]:.2f}x**" if bold else f"{figures[headline]:.2f}x"
    return f"{median} ({min(per_epoch):.2f}x to {max(per_epoch):.2f}x)" if per_epoch else median


def _differing(pipe: dict) -> str:
    """The differing outputs, by stage where many differ (checkpoints made on another CPU)."""
    paths, stages = pipe["outputs_differing_from_workspace"], pipe.get("stages_differing_from_workspace")
    if stages and len(paths) > 3:
        return f"{len(paths)} outputs of {', '.join(f'`{s}`' for s in stages)}"
    return ", ".join(f"`{p}`" for p in paths)


def _pure(pipe: dict, key: str) -> str:
    """' (3.1 s with ruamel.yaml's pure-Python parser)', where measured."""
    pure = pipe.get(f"{key}_pure_yaml_s")
    if pure is None:
        return ""
    if not pipe.get("yaml_c_parser", True):
        return " (ruamel.yaml.clib is not installed: DVC parsed YAML in pure Python)"
    return f" ({pure:.1f} s with ruamel.yaml's pure-Python parser)"


def contention_table(figures: dict) -> list[str]:
    lines = [
        f"Sharing the cores (`benchmarks/contention.py`): one epoch of model_2 over {figures['images']:,} images "
        f"per training process, medians of {figures['repeats']} rounds, the setups taking turns; the busy process "
        "is a `while True` loop pinned to one core.",
        "",
        "| setup | epoch alone | epoch beside a busy core | two at once vs one after the other: training "
        "| the same, whole processes |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in contention.SETUPS:
        f = figures[name]
        lines.append(f"| {name} | {f['alone_s']:.2f} s | {f['busy_slowdown']:.2f}x | "
                     f"{f['training_two_at_once_vs_sequential']:.2f}x | "
                     f"{f['two_at_once_vs_sequential']:.2f}x ({f['two_at_once_wall_s']:.1f} s vs "
                     f"{f['one_after_the_other_wall_s']:.1f} s) |")
    same = "the same" if figures["identical_weights_per_thread_count"] else "NOT the same"
    lines += ["", f"Trainings of one thread count ended with {same} weights in every case."]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per loop and model, after one warm-up (5)")
    parser.add_argument("--images", type=int, help="time on the first IMAGES training images only: a quick check "
                        "that it runs, recorded nowhere")
    parser.add_argument("--mirror", default=os.environ.get("MNIST_MIRROR"),
                        help="folder or URL of the MNIST .gz files for the `dvc repro -f` timing ($MNIST_MIRROR)")
    parser.add_argument("--docs", action="store_true", help="rewrite the table in docs/performance.md")
    parser.add_argument("--models", nargs="+", help="time only these models (default: all in params.yaml)")
    parser.add_argument("--no-contention", action="store_true", help="skip the sharing-the-cores runs (6 minutes)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.epochs < 1 or (args.images is not None and args.images < 1):
        sys.exit("error: --epochs and --images take a positive count")
    if args.images and args.docs:
        sys.exit("error: --images is a quick check, not a measurement: it writes no docs (drop --docs)")
    results = measure(args.epochs, args.mirror, args.models, share=not args.no_contention, images=args.images)
    if not args.images:
        record(results)  # beside the other benchmarks' sections
    text = table(results)
    print(text)
    if args.docs:
        replace_block(PERFORMANCE_DOC, "performance", text + "\n")


if __name__ == "__main__":
    main()
