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


def test_no_stage_imports_torchvision():
    """Importing torchvision costs a stage about 1.4 s on top of torch; every place the project could
    use it says in one line why its own code stays, and tests compare that code with torchvision's
    (the gallery with make_grid, the IDX reader with torchvision's). A quick experiment stays as fast."""
    from tests.project import stage_imports

    imports = stage_imports()
    assert {"stages.train", "stages.evaluate", "stages.crossval.folds"} <= {module for module, _ in imports}
    assert [module for (module, _), found in imports.items() if "torchvision" in found["modules"]] == []


def _png(data: bytes):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data))


def test_the_gallery_shows_the_misclassified_digits_in_order_each_over_its_label():
    import numpy as np

    from mnist_pipeline.evaluation.gallery import LABEL_HEIGHT, PADDING, SCALE, misclassified_png

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (60, 28, 28), dtype=torch.uint8, generator=generator)
    actual = torch.arange(60) % 10
    predicted = actual.clone()
    wrong = [3, 7, 8, 20, 31, 32, 40, 41, 50, 55]  # ten: a full row of eight and two more
    predicted[wrong] = (actual[wrong] + 1) % 10
    sheet = _png(misclassified_png(images, actual, predicted))
    assert sheet.format == "PNG" and sheet.mode == "L"
    tile_w, tile_h = 28 * SCALE + PADDING, 28 * SCALE + LABEL_HEIGHT + PADDING
    assert sheet.size == (8 * tile_w + PADDING, 2 * tile_h + PADDING)
    pixels = np.array(sheet)
    for slot, index in enumerate(wrong):
        x, y = (slot % 8) * tile_w + PADDING, (slot // 8) * tile_h + PADDING
        enlarged = images[index].numpy().repeat(SCALE, axis=0).repeat(SCALE, axis=1)
        assert (pixels[y : y + 28 * SCALE, x : x + 28 * SCALE] == enlarged).all(), f"tile {slot}"
        label = pixels[y + 28 * SCALE : y + 28 * SCALE + LABEL_HEIGHT, x : x + 28 * SCALE]
        assert (label < 128).sum() > 10 and (label == 255).mean() > 0.5, f"tile {slot}: no dark text on white"
    assert (pixels[:PADDING] == 255).all() and (pixels[:, :PADDING] == 255).all()
    # At most max_tiles, and a sheet that says so where nothing is wrong.
    assert _png(misclassified_png(images, actual, predicted, max_tiles=3)).size == (3 * tile_w + PADDING, tile_h + PADDING)
    empty = np.array(_png(misclassified_png(images, actual, actual)))
    assert (empty < 128).any() and (empty == 255).mean() > 0.9


def test_the_gallery_is_laid_out_as_torchvisions_make_grid():
    import numpy as np
    from PIL import ImageFont
    from torchvision.utils import make_grid

    from mnist_pipeline.evaluation.gallery import PADDING, misclassified_png, tile

    images = torch.randint(0, 256, (20, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    actual, predicted = torch.zeros(20, dtype=torch.long), torch.ones(20, dtype=torch.long)
    font = ImageFont.load_default()
    for count in (3, 11):
        tiles = torch.stack([torch.from_numpy(np.array(tile(images[i], "t0 p1", font)))[None] for i in range(count)])
        expected = make_grid(tiles, nrow=8, padding=PADDING, pad_value=255)[0].numpy()
        assert np.array_equal(np.array(_png(misclassified_png(images, actual, predicted, max_tiles=count))), expected)


def test_the_report_shows_each_models_calibrated_ece_and_refuses_an_older_summary(tmp_path):
    from mnist_pipeline.core.errors import PipelineError
    from mnist_pipeline.core.files import write_json
    from mnist_pipeline.evaluation.report import build_report, read_summary, scores, summary_row, to_markdown

    train = {"parameters": 7946, "best_val_accuracy": 0.9958, "best_epoch": 19, "epochs_run": 20, "device": "cpu"}
    row = summary_row("model_3", train, {"test_accuracy": 0.9955, "test_loss": 0.1073, "test_ece": 0.00412})
    write_json(row, tmp_path / "model_3.json")
    assert read_summary(tmp_path / "model_3.json") == row
    markdown = to_markdown(build_report([row], [None]))
    header, _, cells = (line.split(" | ") for line in markdown.splitlines())
    assert cells[header.index("test ECE, calibrated")] == "0.41%"
    assert scores(row, None)["test_ece"] == 0.00412
    del row["test_ece"]
    write_json(row, tmp_path / "old.json")
    with pytest.raises(PipelineError, match=r"old.json: no test_ece .*run `dvc repro`"):
        read_summary(tmp_path / "old.json")
