"""Atomic writers: every output goes to a temporary file that is renamed into place. Bounded readers:
a file someone names is read, and a `.gz` unpacked, no further than what it can sensibly hold.
"""

import csv
import errno
import gzip
import io
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from mnist_pipeline.core.errors import PipelineError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a writer that was killed
        stale.unlink(missing_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # a full disk fails on the descriptor: name the file meant
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _kind(mode: int) -> str | None:
    """What a file that is not a regular one is, or None for a regular file."""
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) else "not a regular file"


def read_bounded(path: str | os.PathLike, limit: int) -> bytes:
    """path's bytes, at most limit + 1 of them (one more than limit tells a larger file). A FIFO, device
    or socket is refused by an OSError before it is opened for reading (opening a FIFO waits for a
    writer, a device may act on being opened, /dev/zero never ends); a growing file is read no further."""
    kind = _kind(os.stat(path).st_mode)
    if kind is None:  # opened without waiting, and looked at again: it may have been swapped meanwhile
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            kind = _kind(os.fstat(fd).st_mode)
            if kind is None:
                os.set_blocking(fd, True)
                with os.fdopen(fd, "rb", closefd=False) as file:
                    return file.read(limit + 1)
        finally:
            os.close(fd)
    raise OSError(errno.EINVAL, f"{kind}, not a regular file", str(path))


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """The gzip data decompressed, at most limit + 1 bytes of it (a decompression bomb costs no more);
    raises gzip's errors (OSError, EOFError, zlib.error) for a damaged file."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as file:
        return file.read(limit + 1)


def torch_bytes(obj: Any) -> bytes:
    """Serialize obj with torch.save in memory.

    torch.save names the zip archive after the file it writes to, so saving to a temporary
    file would change the bytes; an in-memory buffer always gets the same name.
    """
    import torch  # here, so that stages which write no tensors never import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """Write obj with torch.save, atomically and with bytes that do not depend on the file name."""
    atomic_write_bytes(path, torch_bytes(obj))


def read_json(path: str | os.PathLike, what: str, then: str = "") -> Any:
    """path's JSON; a missing, unreadable or malformed file is one PipelineError that names it,
    says what it should hold (what) and, if given, what to run (then)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc
        raise PipelineError(f"{path}: cannot read {what} ({reason}){f'; {then}' if then else ''}") from None


def write_json(obj: Any, path: str | os.PathLike) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Write rows (dicts with the same keys, in column order) as CSV with a header line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode())
