"""Smoke test on the real MNIST files, where a local copy is at hand ($MNIST_MIRROR or ../shared)."""

import os
from pathlib import Path

import pytest

from mnist_pipeline.core.params import download_params, load_params
from mnist_pipeline.data.sources import fetch_verified
from mnist_pipeline.data.splits import prepare
from tests.synthetic import write_raw

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("MNIST_MIRROR") or ROOT.parent / "shared" / "datasets" / "mnist")

pytestmark = pytest.mark.skipif(
    not (MIRROR / "train-images-idx3-ubyte.gz").is_file(), reason=f"no local MNIST at {MIRROR}"
)


def test_real_mnist_matches_the_canonical_digests_and_splits(tmp_path):
    params = download_params(load_params(ROOT / "params.yaml"))
    files = fetch_verified([str(MIRROR)], params.sha256, params.timeout_s)
    splits = prepare(write_raw(tmp_path / "raw", files), val_size=5_000, seed=42)
    assert {name: len(split) for name, split in splits.items()} == {"train": 55_000, "val": 5_000, "test": 10_000}
    assert splits["test"].labels.bincount().tolist()[:3] == [980, 1135, 1032]
