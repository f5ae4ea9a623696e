"""What Ray costs and gives cross-validation on this machine, side by side in one run.

    python -m benchmarks.crossval_ray [--model model_4] [--rounds 2]

Needs the raw training images (`dvc repro download`). Two measures:

- **fixed cost**: the model's folds (its recipe, params.yaml's crossval) through Ray on an embedded
  local instance, as the stage runs them, against the same folds trained one after another in this
  process without Ray; the two take turns for --rounds rounds, and the difference of the medians
  is what Ray adds (starting and stopping the instance, shipping code and data, scheduling).
- **scaling**: 4 folds with one thread each on a simulated cluster of two one-CPU nodes against one
  one-CPU node (`ray.cluster_utils.Cluster`, on this machine).

Results go to benchmarks/results.json's "crossval_ray".
"""

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common import ROOT, recipes, record
from mnist_pipeline.core import paths
from mnist_pipeline.core.params import crossval_params, load_params
from mnist_pipeline.data.folds import assign_folds, training_images
from mnist_pipeline.training import ray_folds


def without_ray(name, recipe, crossval, data) -> None:
    folds = assign_folds(data.labels, crossval.k, crossval.seed)
    recipe = replace(recipe, train=replace(recipe.train, threads=recipe.train.threads or torch.get_num_threads()))
    for fold in crossval.folds:
        ray_folds.train_fold(name, recipe, crossval, data, folds, fold)


def with_ray(name, recipe, crossval, data) -> None:
    with tempfile.TemporaryDirectory() as out:
        ray_folds.run_folds(name, recipe, crossval, data, Path(out), Path(out) / "marks", [], log=lambda line: None)


def on_cluster(nodes: int, name, recipe, crossval, data) -> float:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    os.environ["RAY_ADDRESS"] = cluster.address
    try:
        start = time.perf_counter()
        with_ray(name, recipe, crossval, data)
        return time.perf_counter() - start
    finally:
        os.environ.pop("RAY_ADDRESS", None)
        cluster.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="model_4")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    os.environ.pop("RAY_ADDRESS", None)
    recipe, crossval = recipes()[args.model], crossval_params(load_params())
    data = training_images(paths.RAW_DIR)

    times = {"without Ray": [], "Ray, local instance": []}
    for _ in range(args.rounds):
        for label, how in (("without Ray", without_ray), ("Ray, local instance", with_ray)):
            start = time.perf_counter()
            how(args.model, recipe, crossval, data)
            times[label].append(round(time.perf_counter() - start, 2))
            print(f"{label}: {times[label][-1]:.1f} s", flush=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    fixed = medians["Ray, local instance"] - medians["without Ray"]
    print(f"{args.model}, {crossval.k} folds: {medians['without Ray']:.1f} s without Ray, "
          f"{medians['Ray, local instance']:.1f} s through Ray: Ray's fixed cost {fixed:+.1f} s (medians of {args.rounds})")

    one_thread = replace(recipe, train=replace(recipe.train, threads=1))
    four = replace(crossval, folds=[1, 2, 3, 4])
    scaling = {nodes: round(on_cluster(nodes, args.model, one_thread, four, data), 2) for nodes in (1, 2)}
    print(f"4 folds, one thread each: {scaling[1]:.1f} s on one one-CPU node, {scaling[2]:.1f} s on two: "
          f"{scaling[2] / scaling[1]:.2f}x")

    record({"crossval_ray": {"model": args.model, "folds": crossval.k, "seconds": times,
                             "fixed_cost_s": round(fixed, 2), "scaling_4_folds_s": scaling,
                             "scaling_ratio": round(scaling[2] / scaling[1], 3)}})


if __name__ == "__main__":
    main()
