import pytest
import torch

from mnist_pipeline.evaluation.per_class import confusion_matrix, per_class_metrics


def test_confusion_matrix_and_per_class_metrics():
    actual = torch.tensor([0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 1, 1, 2, 2])
    confusion = confusion_matrix(actual, predicted)
    assert confusion.shape == (10, 10)
    assert confusion.loc[0, 0] == 2 and confusion.loc[0, 1] == 1 and confusion.loc[1, 2] == 1
    assert confusion.values.sum() == 6
    table = per_class_metrics(confusion).set_index("class")
    assert table.loc[0, "precision"] == 1.0 and table.loc[0, "recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert table.loc[1, "precision"] == 0.5 and table.loc[1, "recall"] == 0.5
    assert table.loc[2, "precision"] == 0.5 and table.loc[2, "recall"] == 1.0
    assert table.loc[2, "f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert table.loc[5, "f1"] == 0.0 and table.loc[5, "support"] == 0
