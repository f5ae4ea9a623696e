import pytest
import torch

from mnist_pipeline.evaluation.per_class import confusion_matrix, confusion_rows, per_class_metrics


def test_confusion_matrix_and_per_class_metrics():
    actual = torch.tensor([0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([0, 0, 1, 1, 2, 2])
    confusion = confusion_matrix(actual, predicted)
    assert confusion.shape == (10, 10)
    assert confusion[0, 0] == 2 and confusion[0, 1] == 1 and confusion[1, 2] == 1
    assert confusion.sum() == 6
    assert confusion_rows(confusion)[1] == {"actual": 1, **{str(p): int(p == 1 or p == 2) for p in range(10)}}
    table = {row["class"]: row for row in per_class_metrics(confusion)}
    assert table[0]["precision"] == 1.0 and table[0]["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert table[1]["precision"] == 0.5 and table[1]["recall"] == 0.5
    assert table[2]["precision"] == 0.5 and table[2]["recall"] == 1.0
    assert table[2]["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert table[5]["f1"] == 0.0 and table[5]["support"] == 0


def test_the_per_experiment_stages_import_no_pandas():
    """train and evaluate run for every experiment; pandas in their imports would add about 0.3 s to
    each (DVCLive still imports it once training starts: its own choice)."""
    from tests.project import stage_imports

    checked = {module: imported["modules"] for (module, _), imported in stage_imports().items()
               if module in ("stages.train", "stages.evaluate")}
    assert sorted(checked) == ["stages.evaluate", "stages.train"]  # a renamed stage is not silently skipped
    for module, modules in checked.items():
        assert "pandas" not in modules, module
