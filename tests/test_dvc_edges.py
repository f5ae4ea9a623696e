"""DVC's own edges, which the project cannot change, behave as docs/failure-modes.md says, with the
recovery it gives (DVC 3.67): `-S models=null`, and a `dvc exp queue-worker` killed with SIGKILL."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.project import copy_project, environment, init_repo, run

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is not installed")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory, raw_files):
    base = tmp_path_factory.mktemp("dvc-edges")
    root = copy_project(base / "project", raw_files, base / "mirror", ("model_1",))
    env = environment(base)
    init_repo(root, env)
    return root, env


def test_models_set_to_null_is_dvcs_error_before_any_stage_and_changes_nothing(repo):
    """DVC expands dvc.yaml's `matrix: model: ${models}` before any stage, so `check` never sees it."""
    root, env = repo
    result = run(["dvc", "exp", "run", "-S", "models=null"], root, env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "'Value' object is not iterable" in output, output
    assert "Running stage" not in output
    assert run(["git", "status", "--porcelain"], root, env).stdout == ""  # params.yaml as it was


def _queue(root, env, *args) -> str:
    return run(["dvc", "queue", *args], root, env, check=False).stdout


def _status(root, env, name) -> str:
    line = next((line for line in _queue(root, env, "status").splitlines() if f" {name} " in line), "")
    return line.split()[-1] if line else ""


def test_a_killed_queue_worker_leaves_its_experiment_running_until_queue_kill(repo):
    root, env = repo
    run(["dvc", "exp", "run", "--queue", "-n", "orphan", "-S", "train.epochs=1000"], root, env)
    subprocess.Popen(["dvc", "queue", "start"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL).wait(timeout=120)
    training = None
    deadline = time.monotonic() + 180
    while training is None and time.monotonic() < deadline:
        runs = subprocess.run(["pgrep", "-f", f"exec-run --infofile {root}/"], capture_output=True, text=True).stdout.split()
        found = [pid for run_ in runs for pid in subprocess.run(["pgrep", "-P", run_], capture_output=True,
                                                                  text=True).stdout.split()]
        training = next((int(pid) for pid in found if b"stages.train" in _cmdline(int(pid))), None)
        time.sleep(0.5)
    assert training, "the queued training never started"
    (pid_file,) = (root / ".dvc/tmp/exps/celery").glob("dvc-exp-worker-*.pid")
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    time.sleep(3)
    assert _alive(training), "the training went with its worker"
    assert _status(root, env, "orphan") == "Running" and "0 active" in _queue(root, env, "status")

    # The recovery docs/failure-modes.md gives: `dvc queue kill` stops the training left behind; again,
    # until the status is no longer Running; then `dvc queue remove`, and queue it again.
    for _ in range(5):
        _queue(root, env, "kill", "orphan")
        time.sleep(2)
        if _status(root, env, "orphan") != "Running":
            break
    assert not _alive(training)
    assert _status(root, env, "orphan") in ("Failed", "Success")
    assert "orphan" not in run(["dvc", "exp", "ls"], root, env).stdout  # its result was never saved
    _queue(root, env, "remove", "orphan")
    assert _status(root, env, "orphan") == ""


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
