"""Trainings on one machine take turns on its cores: claims, waiting, release on kill, pinning."""

import os
import signal
import subprocess
import sys
import time
from contextlib import nullcontext

import pytest
import torch

from mnist_pipeline.training import cores
from mnist_pipeline.training.cores import claim_cores, usable_cpus
from tests.project import ROOT, build, train_params

pytestmark = pytest.mark.skipif(cores.fcntl is None or len(usable_cpus()) < 2, reason="needs file locks and 2 CPUs")

# Claims with `threads` torch threads in its own process once told to (a line on stdin), says when it
# holds the cores, holds them `hold` s.
CLAIMER = """
import sys, time, torch
from pathlib import Path
from mnist_pipeline.training.cores import claim_cores
torch.set_num_threads(int(sys.argv[2]))
print("ready", flush=True)
sys.stdin.readline()
with claim_cores(sys.argv[3], Path(sys.argv[1])) as cpus:
    print("claimed", time.time(), *cpus, flush=True)
    time.sleep(float(sys.argv[4]))
"""


def claimer(lock_dir, threads, name, hold, go=True):
    process = subprocess.Popen([sys.executable, "-c", CLAIMER, str(lock_dir), str(threads), name, str(hold)],
                               cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    if go:
        start(process)
    return process


def start(process):
    process.stdin.write("go\n")
    process.stdin.flush()


def claimed_at(process) -> tuple[float, str]:
    out, _ = process.communicate(timeout=60)
    line = next(line for line in out.splitlines() if line.startswith("claimed"))
    return float(line.split()[1]), out


@pytest.mark.slow
def test_a_training_on_every_core_waits_for_the_one_before_and_says_for_whom(tmp_path):
    expected = usable_cpus()[: torch.get_num_threads()]
    second = claimer(tmp_path, torch.get_num_threads(), "second", 0, go=False)  # not a child of a pinned thread
    with claim_cores("training model_2", tmp_path, log=lambda line: None) as held:
        assert held == expected
        start(second)
        time.sleep(1.5)
        released = time.time()
    claimed, out = claimed_at(second)
    assert claimed >= released
    assert out.count("Waiting for") == 1 and f"pid {os.getpid()}: training model_2" in out


@pytest.mark.slow
def test_trainings_of_one_thread_each_share_the_cores(tmp_path):
    first, second = claimer(tmp_path, 1, "first", 3, go=False), claimer(tmp_path, 1, "second", 3, go=False)
    start(first)
    start(second)
    (a, out_a), (b, out_b) = claimed_at(first), claimed_at(second)
    assert abs(a - b) < 3, "the second claimed before the first let go"
    assert {out_a.split()[2], out_b.split()[2]} == {str(c) for c in usable_cpus()[:2]}  # different cores
    assert "Waiting" not in out_a + out_b


@pytest.mark.slow
def test_a_killed_training_leaves_its_cores_free(tmp_path):
    holder = claimer(tmp_path, torch.get_num_threads(), "killed", 60)
    assert holder.stdout.readline().startswith("claimed")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    waited = []
    with claim_cores("next", tmp_path, log=waited.append):
        pass
    assert waited == []


def test_a_lock_folder_that_cannot_be_used_is_one_warning_and_training_goes_on(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    said = []
    with claim_cores("anyway", blocked, log=said.append) as held:
        assert held == []
    assert len(said) == 1 and said[0].startswith(f"warning: {blocked}: cannot claim CPU cores")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux thread affinity")
def test_threads_are_pinned_while_training_on_every_core_and_let_go_after(tmp_path):
    before = os.sched_getaffinity(0)
    with claim_cores("pinned", tmp_path, log=lambda line: None) as held:
        if len(held) == len(before):
            assert os.sched_getaffinity(0) == {held[0]}
    assert os.sched_getaffinity(0) == before
    assert all(os.sched_getaffinity(int(t)) == before for t in os.listdir("/proc/self/task"))


def test_claiming_and_pinning_change_no_result(tmp_path, data):
    from mnist_pipeline.training.loop import train_epoch, training_layout
    from mnist_pipeline.training.optim import make_optimizer

    def weights(claimed: bool) -> bytes:
        torch.manual_seed(0)
        model, x = training_layout(build("model_2"), data[0][:512])
        params = train_params(batch_size=64)
        optimizer = make_optimizer(model, params)
        with claim_cores("result check", tmp_path, log=lambda line: None) if claimed else nullcontext():
            train_epoch(model, optimizer, x, data[1][:512], params, torch.Generator().manual_seed(0))
        return b"".join(p.detach().contiguous().numpy().tobytes() for p in model.parameters())

    assert weights(claimed=True) == weights(claimed=False)


# --- a lock folder in a shared temp dir: what another local user could plant there --------------

def _another_user(path, monkeypatch) -> None:
    """path made another user's: chowned to nobody where the tests run as root, else this process
    made to believe it is someone else."""
    if os.getuid() == 0:
        os.chown(path, 65534, 65534, follow_symlinks=False)
    else:
        uid = os.getuid()
        monkeypatch.setattr(cores.os, "getuid", lambda: uid + 1)


@pytest.fixture
def yours(tmp_path):
    """A file of the user's, with known content, that a planted link aims at."""
    target = tmp_path / "thesis.txt"
    target.write_text("three years of work\n")
    return target


def _claim(lock_dir) -> tuple[list, list[str]]:
    said = []
    with claim_cores("planted", lock_dir, log=said.append) as held:
        pass
    return held, said


def test_a_link_planted_in_a_loose_lock_folder_is_refused_and_its_target_untouched(tmp_path, yours):
    """Another user made cpu0.lock a link to a file of yours: training truncated it and wrote its pid in."""
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()
    os.chmod(lock_dir, 0o777)  # as older versions left it to anyone's umask, or a careless user
    (lock_dir / f"cpu{usable_cpus()[0]}.lock").symlink_to(yours)
    held, said = _claim(lock_dir)
    assert yours.read_text() == "three years of work\n"
    assert held == [] and said == [f"warning: {lock_dir}: cannot claim CPU cores (cpu{usable_cpus()[0]}.lock: a symbolic "
                                   "link, not a lock file of yours; remove it); training without taking turns"]
    assert oct(os.stat(lock_dir).st_mode & 0o777) == oct(0o700), "the folder is the user's: made private"


def test_a_lock_folder_another_user_made_is_not_used(tmp_path, yours, monkeypatch):
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir(mode=0o777)
    os.chmod(lock_dir, 0o777)
    (lock_dir / f"cpu{usable_cpus()[0]}.lock").symlink_to(yours)
    _another_user(lock_dir, monkeypatch)
    held, said = _claim(lock_dir)
    assert yours.read_text() == "three years of work\n" and held == []
    assert len(said) == 1 and said[0].startswith(f"warning: {lock_dir}: cannot claim CPU cores (owned by uid ")
    assert said[0].endswith(", not you; set TMPDIR to a folder of your own); training without taking turns")


@pytest.mark.skipif(os.getuid() != 0, reason="chowns a file to another user")
def test_a_lock_file_another_user_planted_is_not_truncated(tmp_path):
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir(mode=0o700)
    planted = lock_dir / f"cpu{usable_cpus()[0]}.lock"
    planted.write_text("theirs\n")
    os.chown(planted, 65534, 65534)
    held, said = _claim(lock_dir)
    assert planted.read_text() == "theirs\n" and held == []
    assert said == [f"warning: {lock_dir}: cannot claim CPU cores ({planted.name}: not a plain file of yours (another "
                    "user's, a device or a hard link); remove it); training without taking turns"]


def test_a_new_lock_folder_and_its_files_are_the_users_alone(tmp_path):
    lock_dir = tmp_path / "made" / "locks"
    held, said = _claim(lock_dir)
    assert said == [] and held
    assert os.stat(lock_dir).st_mode & 0o777 == 0o700
    assert all(os.stat(lock).st_mode & 0o777 == 0o600 for lock in lock_dir.iterdir())
    assert cores.LOCK_DIR.name == f"mnist-pipeline-cores-{os.getuid()}"
