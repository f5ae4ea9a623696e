"""Whatever stops a command (a full disk, Ctrl-C, SIGTERM) ends in one line and a non-zero exit,
and the advice the errors give works in the state DVC leaves behind."""

import errno
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from mnist_pipeline.core.command import run_command, stops_deferred
from mnist_pipeline.core.files import atomic_write_bytes
from stages.check import RECOVERY
from tests.project import copy_project, environment, run


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    target = tmp_path / "out" / "metrics.json"
    target.parent.mkdir()
    target.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SystemExit) as exit_:
        run_command(lambda: atomic_write_bytes(target, b"new"))
    assert exit_.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: {target}: no space left on the device; free some space and run the same command again"]
    assert target.read_text() == "old" and [p.name for p in target.parent.iterdir()] == ["metrics.json"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, raw_files):
    base = tmp_path_factory.mktemp("signals")
    root = copy_project(base / "project", raw_files, base / "mirror")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["epochs"] = 200  # long enough to be stopped mid-run
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    env = environment(base)
    for stage in ("download", "preprocess"):
        run([sys.executable, "-m", f"stages.{stage}"], root, env)
    return root, env


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_training_says_so_in_one_line(prepared, signum):
    root, env = prepared
    state = root / ".resume/model_1.pt"
    state.unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "stages.train", "model_1"], cwd=root, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # the first epoch, on a machine that may be busy
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signum)
    process.send_signal(signum)  # a second Ctrl-C, or DVC passing the first one on
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 128 + signum
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    name = signal.Signals(signum).name
    assert [line for line in stderr.splitlines() if line.startswith("error: ")] == [
        f"error: interrupted ({name}); run the same command again to go on (training resumes from its last completed epoch)"
    ]
    assert not (root / "checkpoints/model_1/best.pt").exists() and state.exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_command_that_keeps_nothing_says_only_to_run_it_again(capsys, signum):
    """A predict stopped on a FIFO advised that "training resumes from its last completed epoch"; only
    the commands that resume say what they keep (stages/train.py's, in the slow test above)."""
    with pytest.raises(SystemExit) as exit_:
        run_command(lambda: os.kill(os.getpid(), signum))
    assert exit_.value.code == 128 + signum
    assert capsys.readouterr().err == f"error: interrupted ({signal.Signals(signum).name}); run the same command again\n"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_between_two_writes_that_belong_together_waits_for_the_second(tmp_path, capsys, signum):
    def main():
        with stops_deferred():
            atomic_write_bytes(tmp_path / "fold_1.json", b"{}")
            os.kill(os.getpid(), signum)  # Ctrl-C, just after the result and before its marker
            atomic_write_bytes(tmp_path / "fold_1.done", b"fingerprint")
        atomic_write_bytes(tmp_path / "fold_2.json", b"{}")  # never reached: the stop takes effect here

    # What the shell gave (a background job of a script starts with Ctrl-C ignored), run_command puts back.
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(SystemExit) as stopped:
        run_command(main)
    assert stopped.value.code == 128 + signum
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold_1.done", "fold_1.json"]
    assert capsys.readouterr().err.startswith(f"error: interrupted ({signal.Signals(signum).name})")
    assert {s: signal.getsignal(s) for s in handlers} == handlers


def test_the_undo_advice_works_on_a_staged_params_yaml_as_a_killed_experiment_leaves_it(tmp_path):
    env = environment(tmp_path)
    (tmp_path / "params.yaml").write_text("train:\n  lr: 0.001\n")
    for command in (["git", "init", "-q"], ["git", "add", "params.yaml"], ["git", "commit", "-q", "-m", "x"]):
        run(command, tmp_path, env)
    (tmp_path / "params.yaml").write_text("train:\n  lr: -1\n")
    run(["git", "add", "params.yaml"], tmp_path, env)  # what a SIGTERM-ed `dvc exp run` leaves: staged
    advice = re.search(r"`(git [^`]+)`", RECOVERY).group(1)
    run(advice.split(), tmp_path, env)
    assert (tmp_path / "params.yaml").read_text() == "train:\n  lr: 0.001\n"
    assert run(["git", "status", "--porcelain"], tmp_path, env).stdout == ""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stage_whose_dvc_was_killed_stops_instead_of_training_on_unseen(prepared):
    """`dvc repro` stopped by SIGTERM dies without passing it on: its stage must not go on alone."""
    root, env = prepared
    state = root / ".resume/model_1.pt"
    state.unlink(missing_ok=True)
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; child = subprocess.Popen(sys.argv[1:]); print(child.pid, flush=True); child.wait()",
         sys.executable, "-m", "stages.train", "model_1"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 120
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{child}") and "zombie" not in _state(child):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{child}") or "zombie" in _state(child), "the stage trained on after its parent died"
    assert not (root / "checkpoints/model_1/best.pt").exists() and state.exists()  # resumable, nothing half-done


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/status").read().lower()
    except OSError:
        return "zombie"


def test_a_reader_that_goes_away_stops_the_command_quietly():
    code = ("from mnist_pipeline.core.command import run_command\n"
            "run_command(lambda: [print('x' * 100, flush=True) for _ in range(100_000)])")
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    writer.stdout.readline()  # `| head -1`
    writer.stdout.close()
    assert writer.wait(timeout=60) == 128 + signal.SIGPIPE
    assert writer.stderr.read() == b""  # no traceback, no "Exception ignored", no error line


def test_a_bug_prints_its_traceback_and_nothing_after_it():
    """An uncaught error's frames held DVC's git objects until Python's shutdown, whose finalizers then
    failed there ("Exception ignored ... sys.meta_path is None"), about 16 tracebacks after the real one.
    Here an object in a reference cycle, as dulwich's are, whose finalizer imports, as dulwich's do."""
    code = ("from mnist_pipeline.core.command import run_command\n"
            "class Repository:\n"
            "    def __del__(self):\n"
            "        import email.mime.text\n"
            "def main():\n"
            "    held = Repository()\n"
            "    held.itself = held\n"
            "    raise RuntimeError('a bug')\n"
            "run_command(main)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.rstrip().endswith("RuntimeError: a bug") and "Exception ignored" not in result.stderr, result.stderr
