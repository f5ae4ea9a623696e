"""Cross-validation folds as Ray tasks: all folds of a model at once, as far as the resources go.

With RAY_ADDRESS unset (or `local`), the stage starts an embedded local Ray instance whose every
server listens on loopback only (no dashboard) and shuts it down when the stage ends, on error and
Ctrl-C too. With RAY_ADDRESS set, the folds go to that cluster: the project's code
travels in the job's runtime environment and the training images through the object store, so
worker nodes need neither a checkout nor MNIST. The address is an environment variable, not a
param: where folds run changes no result and no hash.

Ray's scheduler owns the CPUs inside Ray: tasks claim no cores (training/cores.py). On the local
instance the stage itself holds every core for its run, so a `dvc queue` training on the same
machine waits for it, and it for them.

A fold's result depends on its recipe, its thread count and the node's CPU model (oneDNN picks
kernels by CPU; each result records its machine), not on which node of one model runs it: each task
asks Ray for `threads` CPUs (for `threads: 0`, the core count torch uses on the machine that runs
the stage, as a fold stage without Ray does) and trains with exactly that many threads.
"""

import io
import ipaddress
import os
import time
from contextlib import contextmanager, nullcontext, redirect_stdout
from dataclasses import asdict, replace
from pathlib import Path

import torch
from tqdm import tqdm

import mnist_pipeline
import models
from mnist_pipeline.core.command import stops_deferred
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes, read_json, write_json
from mnist_pipeline.core.params import CrossvalParams, Recipe
from mnist_pipeline.data.folds import assign_folds, fold_split
from mnist_pipeline.data.splits import Split
from mnist_pipeline.training.cores import claim_cores
from mnist_pipeline.training.device import machine
from mnist_pipeline.training.ray_address import LOCAL, ray_address, require_cluster
from mnist_pipeline.training.resume import fingerprint, project_code
from mnist_pipeline.training.session import train_model

RETRIES = 3  # a task whose worker process or node dies is run again, from its start
STALL_S = 60  # how long folds wait while no live node can run one (a dead node may come back)


def fold_result(fold: int, crossval: CrossvalParams, train: Split, val: Split, run) -> dict:
    """What crossval/results/<model>/fold_<i>.json holds."""
    last = run.history[-1]
    return {
        "fold": fold,
        "folds": crossval.k,
        "folds_seed": crossval.seed,
        "train_images": len(train),
        "val_images": len(val),
        # The last epoch's, not the best epoch's: choosing the epoch on this fold would flatter it.
        "val_accuracy": round(last.val_accuracy, 6),
        "val_loss": round(last.val_loss, 6),
        "epochs_run": run.epochs_run,
        "best_epoch": run.best.epoch,
        "best_val_accuracy": round(run.best.val_accuracy, 6),
    }


def train_fold(name: str, recipe: Recipe, crossval: CrossvalParams, data: Split, folds: torch.Tensor, fold: int) -> dict:
    """One fold, in a Ray task (or in-process): train on the other folds, score on this one."""
    import ray

    node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"
    print(f"{name} fold {fold}/{crossval.k}: started on node {node[:12]}", flush=True)
    train, val = fold_split(data, folds, fold)
    with redirect_stdout(io.StringIO()):  # the layer table and epoch blocks of each fold would drown the progress
        trained = train_model(name, recipe, train, val, resume_path=None, inputs=[], claim=False,
                              on_epoch=lambda stats: None)
    result = fold_result(fold, crossval, train, val, trained.run) | {"machine": machine(trained.device)}
    return {"result": result, "node": node}


@contextmanager
def loopback_node():
    """Ray on Linux gives a local instance the machine's outward IP address even when asked for
    127.0.0.1 (ray.init resolves it), and its servers then listen on every interface. On macOS and
    Windows Ray uses loopback for a local instance; this makes Linux do the same while it starts."""
    from ray._private import ray_constants

    previous = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous


def start_local_instance(options: dict) -> None:
    """An embedded Ray instance that accepts connections on loopback only; refused if Ray put it elsewhere."""
    import ray

    os.environ.pop("RAY_ADDRESS", None)  # local workers start in this folder, with this environment: nothing to ship
    with loopback_node():
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1",
                 num_cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                 **options)
    node_ip = ray.util.get_node_ip_address()
    if not ipaddress.ip_address(node_ip).is_loopback:
        ray.shutdown()
        raise PipelineError(f"the local Ray instance would listen on {node_ip}, not only on loopback (ray "
                            f"{ray.__version__}; requirements.txt pins the version this was checked with); "
                            "install that version, or set RAY_ADDRESS to a cluster on a network you trust")


@contextmanager
def ray_session():
    """Ray, connected to RAY_ADDRESS's cluster or to an embedded local instance; yields whether it is local.

    Shut down when the block ends however it ends, which stops a local instance's processes."""
    address = ray_address()
    local = address in LOCAL
    if not local:
        require_cluster()  # within seconds, whatever listens there: ray.init would retry for minutes
    import ray

    options = dict(logging_level="ERROR", configure_logging=True, log_to_driver=True)
    if local:
        start_local_instance(options)
    else:
        # The project's code travels with the job; the environment its threads wait in, too.
        runtime_env = {"py_modules": [Path(mnist_pipeline.__file__).parent, Path(models.__file__).parent],
                       "env_vars": {key: os.environ[key] for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if key in os.environ}}
        try:
            ray.init(address=address, runtime_env=runtime_env, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:  # `auto` with no cluster, a refused token
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PipelineError(f"RAY_ADDRESS={address}: cannot connect to Ray ({first})") from None
    try:
        yield local
    finally:
        ray.shutdown()


def gpus_per_fold(recipe: Recipe, crossval: CrossvalParams, cluster_gpus: float) -> float:
    """A fold's share of a GPU: where it will train on CUDA, crossval.gpus_per_fold; else none."""
    wants_cuda = recipe.train.device == "cuda" or (recipe.train.device == "auto" and cluster_gpus > 0)
    return crossval.gpus_per_fold if wants_cuda else 0


def run_folds(name: str, recipe: Recipe, crossval: CrossvalParams, data: Split, results: Path,
              done_markers: Path, inputs: list[Path], log=tqdm.write) -> dict[int, dict]:
    """Every fold of one model not yet done, as Ray tasks; each result is written to
    results/fold_<i>.json as it comes. A fold whose result and marker (done_markers/fold_<i>.done,
    the fingerprint of its recipe, data and code) survive a killed run is not trained again."""
    import ray

    threads = recipe.train.threads or torch.get_num_threads()
    recipe = replace(recipe, train=replace(recipe.train, threads=threads))
    marks = {fold: fingerprint({"model": name, **asdict(recipe), "crossval": asdict(crossval), "fold": fold},
                               [*inputs, *project_code()]) for fold in crossval.folds}
    finished = {}
    for fold in crossval.folds:
        marker, result = done_markers / f"fold_{fold}.done", results / f"fold_{fold}.json"
        if marker.exists() and result.exists() and marker.read_text() == marks[fold]:
            finished[fold] = read_json(result, "a fold's result")
    if finished:
        log(f"{name}: folds {', '.join(map(str, sorted(finished)))} finished in an earlier run, kept")
    if len(finished) == crossval.k:
        return finished

    with ray_session() as local, claim_cores(f"cross-validating {name}") if local else nullcontext():
        gpus = gpus_per_fold(recipe, crossval, ray.cluster_resources().get("GPU", 0))
        if local:  # `threads` above this machine's cores: check warned, and each fold trains on all of them
            threads = min(threads, int(ray.cluster_resources()["CPU"]))
        task = ray.remote(train_fold).options(num_cpus=threads, num_gpus=gpus, max_retries=RETRIES)
        data_ref, folds_ref = ray.put(data), ray.put(assign_folds(data.labels, crossval.k, crossval.seed))
        pending = {task.remote(name, recipe, crossval, data_ref, folds_ref, fold): fold
                   for fold in crossval.folds if fold not in finished}
        with tqdm(total=crossval.k, initial=len(finished), desc=f"{name} folds", unit="fold", disable=None) as bar:
            stalled_since = None
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=5)
                if not done:  # Ray waits for resources forever: a cluster whose nodes cannot run a fold says so
                    stalled_since = None if fold_fits(threads, gpus) else stalled_since or time.monotonic()
                    if stalled_since and time.monotonic() - stalled_since > STALL_S:
                        raise PipelineError(
                            f"{name}: no live node of the Ray cluster has {threads} CPU{'s' if threads != 1 else ''}"
                            f"{f' and {gpus} GPU' if gpus else ''} for a fold (for {STALL_S} s; a node died?); "
                            "add one (`ray start --address=...`) or run again; finished folds are kept")
                    continue
                (ready,) = done
                fold = pending.pop(ready)
                try:
                    answer = ray.get(ready)
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None) or exc
                    message = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
                    raise PipelineError(f"{name}, fold {fold}: {message}") from None
                except ray.exceptions.RayError as exc:  # retries spent: the workers or nodes kept dying
                    raise PipelineError(f"{name}, fold {fold}: failed on Ray after {RETRIES} retries "
                                        f"({type(exc).__name__})") from None
                with stops_deferred():  # a result without its marker would be trained again
                    write_json(answer["result"], results / f"fold_{fold}.json")
                    atomic_write_bytes(done_markers / f"fold_{fold}.done", marks[fold].encode())
                finished[fold] = answer["result"]
                log(f"{name} fold {fold}/{crossval.k}: validation accuracy {answer['result']['val_accuracy']:.2%} "
                    f"after epoch {answer['result']['epochs_run']}, on node {answer['node'][:12]}")
                bar.update(1)
    return finished


def fold_fits(threads: int, gpus: float) -> bool:
    """Whether some live node of the cluster has the CPUs and GPU share one fold asks for."""
    import ray

    return any(node["Alive"] and node["Resources"].get("CPU", 0) >= threads and node["Resources"].get("GPU", 0) >= gpus
               for node in ray.nodes())


def clear_markers(done_markers: Path) -> None:
    for marker in done_markers.glob("fold_*.done"):
        marker.unlink(missing_ok=True)

