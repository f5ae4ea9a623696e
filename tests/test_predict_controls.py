"""benchmarks/predict_controls.py develops predict's reading rules on validation digits and reads
the test digits only for the result it publishes (issue 49)."""

import shutil

import numpy as np
import pytest
import torch

from benchmarks import predict_controls
from mnist_pipeline.core import paths
from mnist_pipeline.data.splits import Split, save_split
from mnist_pipeline.training.checkpoint import save_checkpoint
from tests.project import build


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with a model_1 checkpoint and a prepared validation split, no test split, and a
    record of every split the benchmark loads."""
    save_checkpoint(tmp_path / paths.checkpoint("model_1"), build("model_1").state_dict(), "model_1", {}, epoch=1,
                    val_accuracy=0.0)
    digits = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    digits[:, :4] = digits[:, -4:] = digits[:, :, :4] = digits[:, :, -4:] = 0  # a digit's margin, as MNIST's
    save_split(Split(torch.from_numpy(digits), torch.arange(20) % 10), tmp_path / paths.prepared_split("val"))
    loaded = []
    load = predict_controls.load_split
    monkeypatch.setattr(predict_controls, "load_split", lambda path: loaded.append(path.name) or load(path))
    return tmp_path, loaded


def test_the_controls_read_validation_digits_unless_asked_for_the_final_table(project, capsys):
    root, loaded = project
    checkpoint = str(root / paths.checkpoint("model_1"))
    predict_controls.main(["--checkpoint", checkpoint, "--count", "2", "--only", "people"])
    assert loaded == ["val.pt"] and "2 MNIST validation digits" in capsys.readouterr().out

    with pytest.raises(SystemExit):  # the published table is the test split's, and only it
        predict_controls.main(["--checkpoint", checkpoint, "--count", "2", "--docs"])
    assert "--docs writes the result" in capsys.readouterr().err and loaded == ["val.pt"]

    shutil.copy(root / paths.prepared_split("val"), root / paths.prepared_split("test"))
    predict_controls.main(["--checkpoint", checkpoint, "--count", "2", "--only", "people", "--split", "test"])
    assert loaded == ["val.pt", "test.pt"] and "2 MNIST test digits" in capsys.readouterr().out
