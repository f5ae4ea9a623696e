"""predict reads a file someone names no further than a picture or an IDX file can be: /dev/zero,
a gzip bomb and a FIFO are one line each, at once, in bounded memory."""

import gzip
import os
import threading
import tracemalloc
import zlib

import pytest

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.predict.inputs import MAX_INPUT_BYTES, read_inputs
from tests.project import ROOT


def _refused_within(path, seconds: float = 5) -> str:
    """read_inputs(path)'s one-line refusal; a read that blocks fails the test instead of hanging it."""
    outcome = []

    def read() -> None:
        try:
            read_inputs(path)
        except Exception as exc:  # noqa: BLE001 (whatever it is, the test names it)
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert not reader.is_alive(), f"{path}: still reading after {seconds} s"
    (error,) = outcome
    assert isinstance(error, PipelineError), repr(error)
    assert "\n" not in str(error)
    return str(error)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="Unix devices")
def test_a_device_is_refused_before_a_byte_is_read(tmp_path):
    """/dev/zero read without limit filled 24 GB until the OOM killer ended it. /dev/null first: code
    that reads devices finds it empty, and the test stops there rather than read /dev/zero."""
    assert _refused_within("/dev/null") == "/dev/null: cannot read (a character device, not a regular file)"
    assert _refused_within("/dev/zero") == "/dev/zero: cannot read (a character device, not a regular file)"
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    assert _refused_within(tmp_path / "zero.png") == f"{tmp_path}/zero.png: cannot read (a character device, not a regular file)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="Unix FIFOs")
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    assert _refused_within(fifo) == f"{fifo}: cannot read (a FIFO, not a regular file)"


def test_a_gzip_bomb_is_unpacked_no_further_than_the_bound(tmp_path):
    """2 MB of gzip unpacked to 4.7 GB; here 5 members of 32 MiB of zeros each (160 MiB from 160 kB)."""
    member = gzip.compress(bytes([0, 0, 8, 3]) + bytes(32 * 2**20), compresslevel=9)
    bomb = tmp_path / "zeros.idx.gz"
    bomb.write_bytes(member * 5)
    assert 5 * 32 * 2**20 > 2 * MAX_INPUT_BYTES
    tracemalloc.start()
    try:
        error = _refused_within(bomb, seconds=30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error == (f"{bomb}: unpacks to more than the {MAX_INPUT_BYTES:,} bytes predict reads of a file "
                     "(a decompression bomb?); stopped there")
    assert peak < 2.5 * MAX_INPUT_BYTES, f"{peak:,} bytes at the peak"


def test_a_file_larger_than_the_bound_is_not_read_to_its_end(tmp_path):
    big = tmp_path / "big.idx"
    with open(big, "wb") as file:  # sparse: costs no disk
        file.truncate(MAX_INPUT_BYTES + 1)
    assert _refused_within(big) == f"{big}: larger than the {MAX_INPUT_BYTES:,} bytes predict reads of a file; not read further"
    with open(big, "r+b") as file:  # the bound itself is read (and refused for what it holds, zeros)
        file.truncate(MAX_INPUT_BYTES)
    assert "not a readable image or IDX file" in _refused_within(big)
    with pytest.raises(PipelineError, match="not a valid gzip file"):
        (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + zlib.compress(b"x"))
        read_inputs(tmp_path / "bad.gz")


def test_the_bound_is_the_one_the_docs_state():
    text = (ROOT / "docs/predict.md").read_text() + (ROOT / "docs/failure-modes.md").read_text()
    assert f"{MAX_INPUT_BYTES // 2**20} MiB" in text
