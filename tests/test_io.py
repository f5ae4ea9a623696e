import os

import pytest

from mnist_pipeline.core import files as io


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "sub" / "out.json"
    io.write_json({"a": 1}, target)
    io.write_json({"a": 2}, target)
    assert target.read_text() == '{\n  "a": 2\n}\n'
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_interrupted_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        io.atomic_write_bytes(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".out.json.k1ll3d.tmp"
    stale.write_bytes(b"half")
    io.write_json({"a": 1}, tmp_path / "out.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
