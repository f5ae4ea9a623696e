"""Cross-validation's folds as Ray tasks: where a fold runs changes nothing, failures are one line,
a stopped stage keeps its finished folds, and no Ray process outlives the stage."""

import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import CrossvalParams
from mnist_pipeline.training import ray_address, ray_folds
from tests.project import copy_project, environment, run
from tests.synthetic import make_raw

RAY_PROCESSES = ("raylet", "gcs_server", "ray::")


def ray_processes() -> set[int]:
    found = subprocess.run(["pgrep", "-f", "|".join(RAY_PROCESSES)], capture_output=True, text=True).stdout.split()
    return {int(pid) for pid in found}


def _project(base: Path, raw: dict, folds=(1, 2), **train) -> tuple[Path, dict]:
    root = copy_project(base / "project", raw, base / "mirror")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["crossval"]["folds"] = list(folds)
    params["train"].update(train)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = environment(base)
    run([sys.executable, "-m", "stages.download"], root, env)
    return root, env


def _results(root: Path, model: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "crossval/results" / model).glob("fold_*.json"))}


# --- without Ray running -----------------------------------------------------------------------

def test_a_malformed_address_is_one_line(monkeypatch):
    assert ray_address.problem("ray://[::1").startswith("not host:port")  # urlsplit's ValueError
    assert ray_address.problem("127.0.0.1:99999").startswith("not host:port")
    assert ray_address.problem("not-an-address") == "not host:port"
    monkeypatch.setenv("RAY_ADDRESS", "ray://[::1")
    with pytest.raises(PipelineError, match=r"^RAY_ADDRESS=ray://\[::1: cannot reach a Ray cluster there \(not host:port"):
        with ray_folds.ray_session():
            pass


def test_a_fold_asks_for_a_gpu_share_only_where_it_will_train_on_cuda():
    from tests.project import project_params
    from mnist_pipeline.core.catalog import hyperparameter_types
    from mnist_pipeline.core.params import model_recipe

    recipe = model_recipe(project_params(), "model_4", hyperparameter_types("model_4"))
    crossval = CrossvalParams(folds=[1, 2], seed=0, gpus_per_fold=0.25)
    assert ray_folds.gpus_per_fold(recipe, crossval, cluster_gpus=0) == 0  # auto on a CPU cluster
    assert ray_folds.gpus_per_fold(recipe, crossval, cluster_gpus=1) == 0.25  # auto where there is a GPU
    cpu = recipe.__class__(recipe.train.__class__(**{**vars(recipe.train), "device": "cpu"}), recipe.hyperparameters)
    assert ray_folds.gpus_per_fold(cpu, crossval, cluster_gpus=1) == 0


@pytest.mark.slow
def test_the_main_pipeline_never_imports_ray():
    code = ("import sys, stages.check, stages.download, stages.preprocess, stages.train, stages.evaluate, stages.report, "
            "stages.crossval.folds; print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_training_images_replaced_while_the_folds_train_are_refused(tmp_path, raw_files, monkeypatch):
    """DVC hashes a stage's deps after it ran: the new file's hash would be recorded beside folds of the old."""
    from stages.crossval import folds as stage

    root, _ = _project(tmp_path, raw_files)
    monkeypatch.chdir(root)
    labels = root / "data/raw/train-labels-idx1-ubyte"

    def folds_while_the_labels_change(name, recipe, crossval, data, *rest, **options):
        labels.write_bytes(labels.read_bytes()[:-1] + b"\x00")
        return {fold: {"val_accuracy": 0.5} for fold in crossval.folds}

    monkeypatch.setattr(stage, "run_folds", folds_while_the_labels_change)
    with pytest.raises(PipelineError, match="data/raw/train-labels-idx1-ubyte changed while the folds trained; the "
                                            "results hold the old data, run `dvc repro crossval/dvc.yaml` again"):
        stage.main(["model_4"])


# --- on a local instance -----------------------------------------------------------------------

@pytest.mark.slow
def test_a_failing_fold_or_unknown_model_is_one_line_and_leaves_no_ray_process(tmp_path, raw_files):
    root, env = _project(tmp_path, raw_files)
    before = ray_processes()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["models"]["model_4"]["batch_size"] = 60_000  # onecycle: a warm-up of one step, refused in the task
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for model, message in (("model_9", "error: unknown model 'model_9' (available: model_1"),
                           ("model_4", "error: model_4, fold ")):
        result = run([sys.executable, "-m", "stages.crossval.folds", model], root, env, check=False)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert "onecycle's warmup" in errors[0]
    assert not _results(root, "model_4")
    time.sleep(1)
    assert ray_processes() <= before


def _listening(pids: set[int]) -> set[tuple[str, str]]:
    """(process name, address) of every TCP socket these processes listen on, read from
    /proc/net/tcp and /proc/net/tcp6 (state 0A) and matched to the processes by socket inode."""
    owners = {}
    for pid in pids:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    owners[link[len("socket:["):-1]] = name
        except OSError:  # the process ended meanwhile
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in owners:
                host = bytes.fromhex(fields[1].split(":")[0])  # 32-bit words in the host's byte order
                raw = b"".join(host[i:i + 4][::-1] for i in range(0, len(host), 4)) if sys.byteorder == "little" else host
                found.add((owners[fields[9]], str(ipaddress.ip_address(raw))))
    return found


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket tables")
@pytest.mark.parametrize("ray_address, threads", [("local", 64)])  # RAY_ADDRESS unset starts the same instance
def test_the_local_ray_instance_listens_on_loopback_only(tmp_path, raw_files, ray_address, threads):
    """With threads above the cores, which check lets through with a warning: folds ask the local
    instance for the cores it has, not for CPUs no node has (a wait that would never end)."""
    import psutil

    root, env = _project(tmp_path, raw_files, epochs=1, threads=threads)
    env = {k: v for k, v in env.items() if k != "RAY_ADDRESS"} | ({"RAY_ADDRESS": ray_address} if ray_address else {})
    stage = subprocess.Popen([sys.executable, "-m", "stages.crossval.folds", "model_4"], cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()
    while stage.poll() is None:
        try:
            processes = {stage.pid, *(child.pid for child in psutil.Process(stage.pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            break
        seen |= _listening(processes)
        time.sleep(0.2)
    stderr = stage.communicate(timeout=60)[1]
    assert stage.returncode == 0, stderr
    assert any(name == "gcs_server" for name, _ in seen), seen  # Ray's sockets were seen while it ran
    assert {(name, address) for name, address in seen if not _loopback(address)} == set(), seen


def _fold_inputs(model: str) -> tuple:
    """The recipe, crossval params and training images a fold stage run in this folder reads."""
    from mnist_pipeline.core.catalog import hyperparameter_types
    from mnist_pipeline.core.params import crossval_params, load_params, model_recipe
    from mnist_pipeline.data.folds import training_images

    params = load_params()
    return model_recipe(params, model, hyperparameter_types(model)), crossval_params(params), training_images(Path("data/raw"))


def _in_process(root: Path, model: str) -> dict[str, bytes]:
    """What the stage's folds must hold: each fold trained here, without Ray, written as the stage writes it."""
    from contextlib import chdir

    from mnist_pipeline.core.files import write_json
    from mnist_pipeline.data.folds import assign_folds

    with chdir(root):
        recipe, crossval, data = _fold_inputs(model)
        folds = assign_folds(data.labels, crossval.k, crossval.seed)
        for fold in crossval.folds:
            result = ray_folds.train_fold(model, recipe, crossval, data, folds, fold)["result"]
            write_json(result, Path(f"here/fold_{fold}.json"))
    return {p.name: p.read_bytes() for p in sorted((root / "here").glob("fold_*.json"))}


@pytest.mark.slow
def test_a_stopped_stage_keeps_its_finished_folds_and_no_ray_process(tmp_path):
    raw = make_raw(n_train=2000, n_test=100, seed=1)
    root, env = _project(tmp_path, raw, folds=(1, 2, 3), epochs=3, batch_size=16, threads=1)
    command = [sys.executable, "-m", "stages.crossval.folds", "model_1"]
    expected = _in_process(root, "model_1")  # where a fold runs changes nothing
    assert list(expected) == ["fold_1.json", "fold_2.json", "fold_3.json"]

    before = ray_processes()
    stage = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not _results(root, "model_1") and time.monotonic() < deadline:
        time.sleep(0.05)
    stage.send_signal(signal.SIGINT)
    stderr = stage.communicate(timeout=60)[1]
    assert stage.returncode == 130 and "Traceback" not in stderr, stderr
    kept = _results(root, "model_1")
    assert 1 <= len(kept) < 3 and all(expected[name] == data for name, data in kept.items())
    time.sleep(1)
    assert ray_processes() <= before, "a Ray process outlived the stage"

    resumed = run(command, root, env)
    assert "finished in an earlier run, kept" in resumed.stdout + resumed.stderr
    assert _results(root, "model_1") == expected
    assert not list((root / ".resume/crossval/model_1").glob("*.done"))


# --- on a cluster of several nodes -------------------------------------------------------------

@pytest.mark.slow
def test_folds_spread_over_nodes_give_what_one_process_gives(tmp_path, raw_files, monkeypatch):
    from ray.cluster_utils import Cluster

    root, _ = _project(tmp_path, raw_files, threads=1)
    expected = _in_process(root, "model_2")
    monkeypatch.chdir(root)
    recipe, crossval, data = _fold_inputs("model_2")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    try:
        seen = []
        finished = ray_folds.run_folds("model_2", recipe, crossval, data, Path("out"), Path("out/marks"), [], log=seen.append)
    finally:
        cluster.shutdown()
    assert len({line.rsplit("on node ", 1)[1] for line in seen if "on node" in line}) == 2, seen
    assert sorted(finished) == [1, 2]
    assert {p.name: p.read_bytes() for p in sorted(Path("out").glob("fold_*.json"))} == expected and len(expected) == 2


@pytest.mark.slow
def test_folds_no_live_node_can_run_are_one_line_not_a_wait_forever(tmp_path, raw_files, monkeypatch):
    """Ray waits for resources forever; a node that died mid-fold, leaving none with the CPUs, hung the stage
    without a word (checked by hand with a Cluster whose one worker node was removed). Here no node ever has them."""
    from ray.cluster_utils import Cluster

    root, _ = _project(tmp_path, raw_files, threads=2)
    monkeypatch.chdir(root)
    monkeypatch.setattr(ray_folds, "STALL_S", 1, raising=False)  # code without the limit fails on the join below
    recipe, crossval, data = _fold_inputs("model_4")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)

    outcome = []

    def folds() -> None:
        try:
            ray_folds.run_folds("model_4", recipe, crossval, data, Path("out"), Path("out/marks"), [], log=print)
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=folds, daemon=True)  # code that waits forever fails the test, not hangs it
    try:
        worker.start()
        worker.join(timeout=120)
        assert not worker.is_alive(), "the stage still waits for a node after 120 s"
        (error,) = outcome
        assert isinstance(error, PipelineError), error
        assert str(error).startswith("model_4: no live node of the Ray cluster has 2 CPUs for a fold"), error
    finally:
        cluster.shutdown()


# --- end to end, against a separately started cluster ------------------------------------------

@pytest.fixture
def ray_head():
    """`ray start --head` on loopback with two CPUs and token authentication; stopped (every Ray
    process it started) afterwards. Its folder is short: Ray's socket paths must fit in 107 characters."""
    folder = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": folder, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = 6390
    subprocess.run(["ray", "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                    "--node-ip-address=127.0.0.1", "--disable-usage-stats"], env=env, check=True, capture_output=True,
                   timeout=120)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run(["ray", "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_dvc_repro_sends_folds_to_ray_address_and_survives_a_killed_worker(tmp_path, raw_files, ray_head):
    address, ray_env = ray_head
    root, env = _project(tmp_path, make_raw(n_train=2000, n_test=100, seed=2), epochs=4, batch_size=16, threads=1)
    env = {**env, "RAY_ADDRESS": address, **{key: ray_env[key] for key in ("RAY_TMPDIR", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}}
    shutil.rmtree(root / "data")  # DVC's to make: not in git
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "x"]):
        run(command, root, env)
    stage = ["dvc", "repro", "crossval/dvc.yaml:folds@model_1"]
    first = run(stage, root, env)
    assert "on node" in first.stdout + first.stderr
    expected = _results(root, "model_1")
    assert len(expected) == 2
    assert "changed" not in run(["dvc", "status", stage[2]], root, env).stdout  # what dvc.lock records

    # A worker killed mid-fold: Ray runs the task again, and the results are the same bytes.
    run(["dvc", "repro", "-f", *stage[2:]], root, {**env, "RAY_ADDRESS": "127.0.0.1:9"}, check=False)  # refused, kept
    assert _results(root, "model_1") == expected
    process = subprocess.Popen(["dvc", "repro", "-f", *stage[2:]], cwd=root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline:
        workers = subprocess.run(["pgrep", "-f", "ray::train_fold"], capture_output=True, text=True).stdout.split()
        if workers:
            time.sleep(0.5)  # into its training
            os.kill(int(workers[0]), signal.SIGKILL)
            killed = workers[0]
        time.sleep(0.05)
    output = process.communicate(timeout=300)[0]
    assert killed and process.returncode == 0, output
    assert _results(root, "model_1") == expected


@pytest.mark.slow
def test_an_unreachable_ray_address_is_one_line_within_30_s_and_deletes_nothing(tmp_path, raw_files):
    root, env = _project(tmp_path, raw_files)
    (root / "crossval/results/model_1").mkdir(parents=True)
    (root / "crossval/results/model_1/fold_1.json").write_text('{"kept": true}\n')
    started = time.monotonic()
    result = run([sys.executable, "-m", "stages.crossval.folds", "model_1"], root, {**env, "RAY_ADDRESS": "127.0.0.1:9"},
                 check=False)
    assert time.monotonic() - started < 30 and result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("error: RAY_ADDRESS=127.0.0.1:9: cannot reach")]
    assert json.loads((root / "crossval/results/model_1/fold_1.json").read_text()) == {"kept": True}
