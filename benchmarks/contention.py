"""Training beside other work on the same cores: alone, beside a busy process, and two at once.

    python -m benchmarks.contention [--images N] [--repeats R]
    python -m benchmarks.contention --alone ROUNDS   # only each setup alone, with more samples

Each training is its own process, as DVC runs stages (OpenMP reads its wait policy when torch
loads): one epoch of model_2's default recipe over the first N prepared training images, through
the pipeline's own `claim_cores` where the setup says so. The setups, each measured in the same
run:

- `OMP_WAIT_POLICY=PASSIVE` (waiting threads sleep at once), no coordination: the project before
  trainings claimed their cores (spinning without coordination was worse still: 3.4x beside a busy
  core);
- PASSIVE, and trainings claim their cores (taking turns, pinned threads): the project until
  waiting threads spun again;
- the project's default: the wait of mnist_pipeline.THREAD_WAIT (on Linux a short spin,
  `GOMP_SPINCOUNT=10000`), and trainings claim their cores;
- the same with `threads: 1` per training: the share a queued job can be given.

The busy process is a `while True` loop pinned to the first CPU; this script starts and stops it.
"Two at once" compares two training processes started together with the same two one after the
other, twice: their training (from the first epoch's start to the last one's end, against the two
epochs alone) and whole processes, start-up included (what a queue of two jobs feels). "Beside a
busy core" compares the epoch's time with the epoch's time alone. Prints medians and ratios, and
whether every training of one thread count ended with the same weights.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from mnist_pipeline import THREAD_WAIT

WORKER = r"""
import hashlib, sys, time
from contextlib import nullcontext
import torch
from mnist_pipeline.core import paths
from mnist_pipeline.core.catalog import hyperparameter_types
from mnist_pipeline.core.params import load_params, model_recipe
from mnist_pipeline.data.splits import load_split, normalize
from mnist_pipeline.training.architectures import build_model
from mnist_pipeline.training.cores import claim_cores
from mnist_pipeline.training.device import set_threads
from mnist_pipeline.training.loop import train_epoch, training_layout
from mnist_pipeline.training.optim import make_optimizer
images, claim, threads = int(sys.argv[1]), sys.argv[2] == "claim", int(sys.argv[3])
recipe = model_recipe(load_params(), "model_2", hyperparameter_types("model_2"))
split = load_split(paths.prepared_split("train"))
set_threads(threads)
torch.manual_seed(recipe.train.seed)
model, x = training_layout(build_model("model_2", **recipe.hyperparameters), normalize(split.images[:images]))
optimizer = make_optimizer(model, recipe.train)
with claim_cores("contention benchmark", log=lambda line: None) if claim else nullcontext():
    start, began = time.perf_counter(), time.time()  # after the claim, as the train stage's clock
    train_epoch(model, optimizer, x, split.labels[:images], recipe.train,
                torch.Generator().manual_seed(recipe.train.seed))
    seconds = time.perf_counter() - start
weights = b"".join(p.detach().contiguous().numpy().tobytes() for p in model.parameters())
print(seconds, hashlib.sha256(weights).hexdigest(), began, time.time())
"""
BUSY = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\nwhile True: pass"
IMAGES = 55_000  # one epoch: training outweighs the process's start-up
# name: (environment, claim cores, threads; 0 = one per core)
SETUPS = {
    "PASSIVE, no coordination": ({"OMP_WAIT_POLICY": "PASSIVE"}, False, 0),
    "PASSIVE, taking turns": ({"OMP_WAIT_POLICY": "PASSIVE"}, True, 0),
    "project default": (THREAD_WAIT, True, 0),
    "project, threads 1 each": (THREAD_WAIT, True, 1),
}


def _start(setup: tuple, images: int) -> subprocess.Popen:
    policy, claim, threads = setup
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(policy)  # the worker imports torch first: the policy is this one, not mnist_pipeline's default
    args = [str(images), "claim" if claim else "free", str(threads)]
    return subprocess.Popen([sys.executable, "-c", WORKER, *args], env=env, stdout=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> tuple[float, str, float, float]:
    """The worker's epoch seconds, weights digest, and the epoch's start and end (epoch time)."""
    out, _ = process.communicate()
    if process.returncode:
        sys.exit(f"benchmark worker failed ({process.returncode})")
    seconds, digest, began, ended = out.split()
    return float(seconds), digest, float(began), float(ended)


def _busy_core():
    return subprocess.Popen([sys.executable, "-c", BUSY])


def measure(images: int = IMAGES, repeats: int = 2, setups: dict = SETUPS) -> dict:
    """Per setup: median seconds alone, beside a busy core, and two at once vs one after the other."""
    results, digests = {}, {}
    samples = {name: {"alone": [], "busy": [], "pair": [], "sequential": [], "pair_training": [],
                      "sequential_training": []} for name in setups}
    for _ in range(repeats):  # the setups take turns within each round, so drift hits them alike
        for name, setup in setups.items():
            s = samples[name]
            seen = digests.setdefault(setup[2], set())
            start = time.perf_counter()
            first = _finish(_start(setup, images))
            second = _finish(_start(setup, images))
            s["sequential"].append(time.perf_counter() - start)
            s["alone"] += [first[0], second[0]]
            seen |= {first[1], second[1]}

            hog = _busy_core()
            try:
                seconds, digest, _, _ = _finish(_start(setup, images))
            finally:
                hog.kill()
                hog.wait()
            s["busy"].append(seconds)
            seen.add(digest)

            start = time.perf_counter()
            pair = [_finish(p) for p in [_start(setup, images), _start(setup, images)]]
            s["pair"].append(time.perf_counter() - start)
            seen |= {digest for _, digest, _, _ in pair}
            # From the first epoch's start to the last one's end, against the two epochs alone.
            s["pair_training"].append(max(r[3] for r in pair) - min(r[2] for r in pair))
            s["sequential_training"].append(first[0] + second[0])
    for name, s in samples.items():
        alone, busy = statistics.median(s["alone"]), statistics.median(s["busy"])
        pair, sequential = statistics.median(s["pair"]), statistics.median(s["sequential"])
        results[name] = {
            "alone_s": alone, "beside_busy_s": busy, "busy_slowdown": busy / alone,
            "two_at_once_wall_s": pair, "one_after_the_other_wall_s": sequential,
            "two_at_once_vs_sequential": pair / sequential,
            "training_two_at_once_vs_sequential": (statistics.median(s["pair_training"])
                                                   / statistics.median(s["sequential_training"])),
        }
        print(name, json.dumps({k: round(v, 2) for k, v in results[name].items()}), flush=True)
    results["identical_weights_per_thread_count"] = all(len(d) == 1 for d in digests.values())
    results["images"], results["repeats"] = images, repeats
    return results


def alone(rounds: int, images: int = IMAGES, setups: dict = SETUPS) -> dict:
    """Median epoch seconds alone per setup, the setups taking turns (in alternating order) each
    round: the figure `measure` takes from few samples, with as many as asked."""
    times = {name: [] for name in setups}
    for r in range(rounds):
        for name in list(setups)[:: 1 if r % 2 == 0 else -1]:
            times[name].append(_finish(_start(setups[name], images))[0])
    return {name: statistics.median(t) for name, t in times.items()}


def _rounds(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of rounds, at least 1")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=IMAGES)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--alone", type=_rounds, metavar="ROUNDS",
                        help="only time each setup alone, ROUNDS rounds taking turns, and compare the medians")
    args = parser.parse_args()
    if args.alone is not None:
        medians = alone(args.alone, args.images)
        first = next(iter(medians.values()))
        for name, median in medians.items():
            print(f"{name}: alone {median:.2f} s, {median / first:.2f}x the first setup's (medians of {args.alone})")
        return
    results = measure(args.images, args.repeats)
    print(f"identical weights for each thread count: {results['identical_weights_per_thread_count']}")
    for name in SETUPS:
        r = results[name]
        print(f"{name}: alone {r['alone_s']:.2f} s; beside a busy core {r['busy_slowdown']:.2f}x slower; "
              f"two at once {r['training_two_at_once_vs_sequential']:.2f}x the training time of one after the "
              f"other ({r['two_at_once_vs_sequential']:.2f}x whole processes)")


if __name__ == "__main__":
    main()
