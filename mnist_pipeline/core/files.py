"""Atomic writers: every output goes to a temporary file that is renamed into place."""

import csv
import io
import json
import os
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
