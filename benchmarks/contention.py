"""Training beside other work on the same cores: alone, beside a busy process, and two at once.

    python -m benchmarks.contention [--images N] [--repeats R]

Each training is its own process (OpenMP reads its wait policy when torch loads): one epoch of
model_2's default recipe over the first N prepared training images, every run the same bytes.
The worker imports torch first, so the policy is the environment's: `default` (nothing set: libgomp
spins a while), `PASSIVE` (what the project sets: waiting threads sleep) and a short spin. The busy process is a
`while True` loop pinned to one core; this script starts and stops it. Prints medians and ratios.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WORKER = r"""
import hashlib, sys, time
import torch
from mnist_pipeline.core import paths
from mnist_pipeline.core.catalog import hyperparameter_types
from mnist_pipeline.core.params import load_params, model_recipe
from mnist_pipeline.data.splits import load_split, normalize
from mnist_pipeline.training.architectures import build_model
from mnist_pipeline.training.loop import train_epoch, training_layout
from mnist_pipeline.training.optim import make_optimizer
recipe = model_recipe(load_params(), "model_2", hyperparameter_types("model_2"))
split = load_split(paths.prepared_split("train"))
n = int(sys.argv[1])
torch.manual_seed(recipe.train.seed)
model, x = training_layout(build_model("model_2", **recipe.hyperparameters), normalize(split.images[:n]))
optimizer = make_optimizer(model, recipe.train)
start = time.perf_counter()
train_epoch(model, optimizer, x, split.labels[:n], recipe.train, torch.Generator().manual_seed(recipe.train.seed))
seconds = time.perf_counter() - start
weights = b"".join(p.detach().contiguous().numpy().tobytes() for p in model.parameters())
print(seconds, hashlib.sha256(weights).hexdigest())
"""
BUSY = "import os; os.sched_setaffinity(0, {0})\nwhile True: pass"
# How waiting OpenMP threads behave: libgomp's default spins up to 300,000 times before it sleeps.
POLICIES = {
    "default": {},
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin 10k": {"GOMP_SPINCOUNT": "10000"},
}


def _env(policy: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    return {**env, **policy}


def _start(policy: dict, images: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(images)], env=_env(policy), stdout=subprocess.PIPE,
                            text=True)


def _finish(process: subprocess.Popen) -> tuple[float, str]:
    out, _ = process.communicate()
    if process.returncode:
        sys.exit(f"benchmark worker failed ({process.returncode})")
    seconds, digest = out.split()
    return float(seconds), digest


def measure(images: int, repeats: int) -> dict:
    results, digests = {}, set()
    for name, policy in POLICIES.items():
        alone, busy, pair_wall, sequential = [], [], [], []
        for _ in range(repeats):
            first = _finish(_start(policy, images))
            second = _finish(_start(policy, images))
            alone += [first[0], second[0]]
            sequential.append(first[0] + second[0])
            digests |= {first[1], second[1]}

            hog = subprocess.Popen([sys.executable, "-c", BUSY])
            try:
                seconds, digest = _finish(_start(policy, images))
            finally:
                hog.kill()
                hog.wait()
            busy.append(seconds)
            digests.add(digest)

            start = time.perf_counter()
            pair = [_start(policy, images), _start(policy, images)]
            for seconds, digest in map(_finish, pair):
                digests.add(digest)
            pair_wall.append(time.perf_counter() - start)
        figures = {
            "alone_s": statistics.median(alone),
            "beside_busy_s": statistics.median(busy),
            "two_at_once_wall_s": statistics.median(pair_wall),
            "two_one_after_the_other_s": statistics.median(sequential),
        }
        figures["busy_slowdown"] = figures["beside_busy_s"] / figures["alone_s"]
        figures["two_at_once_vs_sequential"] = figures["two_at_once_wall_s"] / figures["two_one_after_the_other_s"]
        results[name] = figures
        print(name, json.dumps({k: round(v, 2) for k, v in figures.items()}), flush=True)
    results["identical_weights_everywhere"] = len(digests) == 1
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = measure(args.images, args.repeats)
    print(f"identical weights in every case: {results['identical_weights_everywhere']}")
    for name in POLICIES:
        r = results[name]
        print(f"{name}: alone {r['alone_s']:.2f} s; beside a busy core {r['busy_slowdown']:.2f}x slower; "
              f"two at once {r['two_at_once_vs_sequential']:.2f}x the time of one after the other")


if __name__ == "__main__":
    main()
