"""Trainings on one machine take turns on its CPU cores instead of oversubscribing them.

Two trainings of two threads each on two cores oversubscribe them (every parallel step waits for
a thread the other training holds off its core), and the thread count cannot follow the load: it
changes results in the last bits. So each CPU training
claims one core per thread it runs, for as long as it trains, through a lock file per core in a
per-user folder of the temp dir (`dvc queue start -j 2` runs each job in its own copy of the
project, so the folder cannot be in the project). A training that finds its cores taken waits,
and says so once. A killed training's locks go with its process.

The temp dir is shared: another user could make the folder first, or plant in it a link to a file
of yours for a training to truncate. So the folder is made with mode 0700 and used only while it is
a real folder of yours that no one else may write (one of yours that is looser, as older versions
made it, is tightened first), and a lock file is opened without following a link and used only
while it is a plain file of yours: otherwise one warning, and training goes on without taking turns.

A training that has every core to itself also pins its threads, one per core: beside a busy core,
threads that move between cores stalled each other (benchmarks/contention.py measures both).
Neither changes a result: the same threads do the same sums, only when and where they run.
"""

import errno
import os
import stat
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
        _private_folder(lock_dir)
        while (held := _try_claim(cpus, need, lock_dir, what)) is None:
            if not announced:
                log(f"Waiting for {need} of the {len(cpus)} CPU cores, held by other trainings: "
                    f"{_holders(cpus, lock_dir)}")
                announced = True
            time.sleep(POLL_S)
    except OSError as exc:  # a read-only temp dir, another user's folder or file: train anyway, as before claims existed
        where = exc.filename if exc.filename and str(exc.filename) != str(lock_dir) else None
        log(f"warning: {lock_dir}: cannot claim CPU cores ({f'{Path(where).name}: ' if where else ''}"
            f"{exc.strerror or exc}); training without taking turns")
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
        try:
            file = _open_lock(lock_dir / f"cpu{cpu}.lock")
        except OSError:
            for other in held.values():
                other.close()
            raise
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


def _private_folder(folder: Path) -> None:
    """folder made with mode 0700, or checked to be a folder (not a link) of this user's that no one
    else may write; a looser one of this user's is tightened. An OSError says why not."""
    try:
        folder.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    found = os.lstat(folder)
    if stat.S_ISLNK(found.st_mode) or not stat.S_ISDIR(found.st_mode):
        raise OSError(errno.ENOTDIR, "not a folder (a link or a file); remove it", str(folder))
    if found.st_uid != os.getuid():
        raise OSError(errno.EPERM, f"owned by uid {found.st_uid}, not you; set TMPDIR to a folder of your own",
                      str(folder))
    if stat.S_IMODE(found.st_mode) & 0o077:
        os.chmod(folder, 0o700)


def _open_lock(path: Path):
    """path opened to read and append, made (mode 0600) if missing, never through a link; refused unless
    it is a plain file of this user's with no other name (what another user could plant is neither)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "a symbolic link, not a lock file of yours; remove it", str(path)) from None
        raise
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid() or found.st_nlink != 1:
        os.close(fd)
        raise OSError(errno.EPERM, "not a plain file of yours (another user's, a device or a hard link); remove it",
                      str(path))
    return os.fdopen(fd, "a+")


def _holders(cpus: list[int], lock_dir: Path) -> str:
    names = set()
    for cpu in cpus:
        try:
            with _open_lock(lock_dir / f"cpu{cpu}.lock") as file:
                file.seek(0)
                names.add(file.read(200).strip())
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
