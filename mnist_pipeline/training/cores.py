"""Trainings on one machine take turns on its CPU cores instead of oversubscribing them.

Two trainings of two threads each on two cores oversubscribe them (every parallel step waits for
a thread the other training holds off its core), and the thread count cannot follow the load: it
changes results in the last bits. So each CPU training
claims one core per thread it runs, for as long as it trains, through a lock file per core in a
per-user folder of the temp dir (`dvc queue start -j 2` runs each job in its own copy of the
project, so the folder cannot be in the project). A training that finds its cores taken waits,
and says so once. A killed training's locks go with its process.

A training that has every core to itself also pins its threads, one per core: beside a busy core,
threads that move between cores stalled each other (benchmarks/contention.py measures both).
Neither changes a result: the same threads do the same sums, only when and where they run.
"""

import os
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch

try:
    import fcntl
except ImportError:  # Windows: no advisory file locks; trainings do not coordinate there
    fcntl = None

LOCK_DIR = Path(tempfile.gettempdir()) / f"mnist-pipeline-cores-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
POLL_S = 0.1


def usable_cpus() -> list[int]:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@contextmanager
def claim_cores(what: str, lock_dir: Path | None = None, log=print):
    """Hold one core per torch thread (torch.get_num_threads()) until the block ends, waiting
    while other trainings hold them; `what` names this training to the ones that wait for it.
    Yields the CPUs claimed."""
    cpus = usable_cpus()
    need = min(torch.get_num_threads(), len(cpus))
    if fcntl is None:
        yield []
        return
    lock_dir = lock_dir or LOCK_DIR
    announced = False
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        while (held := _try_claim(cpus, need, lock_dir, what)) is None:
            if not announced:
                log(f"Waiting for {need} of the {len(cpus)} CPU cores, held by other trainings: "
                    f"{_holders(cpus, lock_dir)}")
                announced = True
            time.sleep(POLL_S)
    except OSError as exc:  # a read-only or foreign temp dir: train anyway, as before claims existed
        log(f"warning: {lock_dir}: cannot claim CPU cores ({exc.strerror or exc}); training without taking turns")
        held = {}
    with ExitStack() as stack:
        for file in held.values():
            stack.callback(file.close)  # closing the file releases its lock
        if held and need == len(cpus) > 1:
            stack.enter_context(_pinned_threads(cpus))
        yield list(held)


def _try_claim(cpus: list[int], need: int, lock_dir: Path, what: str) -> dict | None:
    """{cpu: its locked file} for `need` free cores, or None (and nothing held) if fewer are free."""
    held = {}
    for cpu in cpus:
        file = open(lock_dir / f"cpu{cpu}.lock", "a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            continue
        file.truncate(0)
        file.write(f"pid {os.getpid()}: {what}\n")
        file.flush()
        held[cpu] = file
        if len(held) == need:
            return held
    for file in held.values():
        file.close()
    return None


def _holders(cpus: list[int], lock_dir: Path) -> str:
    names = set()
    for cpu in cpus:
        try:
            names.add((lock_dir / f"cpu{cpu}.lock").read_text().strip())
        except OSError:
            pass
    return "; ".join(sorted(n for n in names if n)) or "unknown"


@contextmanager
def _pinned_threads(cpus: list[int]):
    """The main thread on the first CPU, torch's other threads on the rest, until the block ends."""
    if not hasattr(os, "sched_setaffinity") or not Path("/proc/self/task").is_dir():
        yield
        return
    torch.ones(len(cpus) * 100_000).add_(1)  # a parallel region: torch's OpenMP threads now exist
    main = os.getpid()
    others = [int(tid) for tid in os.listdir("/proc/self/task") if int(tid) != main]
    try:
        os.sched_setaffinity(main, {cpus[0]})
        for tid in others:
            _set_affinity(tid, set(cpus[1:]))
        yield
    finally:  # every thread, also those started meanwhile (they inherited the main thread's CPU)
        for tid in os.listdir("/proc/self/task"):
            _set_affinity(int(tid), set(cpus))


def _set_affinity(tid: int, cpus: set[int]) -> None:
    try:
        os.sched_setaffinity(tid, cpus)
    except OSError:  # the thread has ended
        pass
