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

    from mnist_pipeline.evaluation.gallery import CAPTION_HEIGHT, LABEL_HEIGHT, PADDING, SCALE, misclassified_png

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (60, 28, 28), dtype=torch.uint8, generator=generator)
    actual = torch.arange(60) % 10
    predicted = actual.clone()
    wrong = [3, 7, 8, 20, 31, 32, 40, 41, 50, 55]  # ten: a full row of eight and two more
    predicted[wrong] = (actual[wrong] + 1) % 10
    sheet = _png(misclassified_png(images, actual, predicted))
    assert sheet.format == "PNG" and sheet.mode == "L"
    tile_w, tile_h = 28 * SCALE + PADDING, 28 * SCALE + LABEL_HEIGHT + PADDING
    assert sheet.size == (8 * tile_w + PADDING, CAPTION_HEIGHT + 2 * tile_h + PADDING)
    pixels = np.array(sheet)
    caption = pixels[:CAPTION_HEIGHT]
    assert (caption < 128).sum() > 200 and (caption == 255).mean() > 0.5, "no caption, dark on white, above the grid"
    for slot, index in enumerate(wrong):
        x, y = (slot % 8) * tile_w + PADDING, CAPTION_HEIGHT + (slot // 8) * tile_h + PADDING
        enlarged = images[index].numpy().repeat(SCALE, axis=0).repeat(SCALE, axis=1)
        assert (pixels[y : y + 28 * SCALE, x : x + 28 * SCALE] == enlarged).all(), f"tile {slot}"
        label = pixels[y + 28 * SCALE : y + 28 * SCALE + LABEL_HEIGHT, x : x + 28 * SCALE]
        assert (label < 128).sum() > 10 and (label == 255).mean() > 0.5, f"tile {slot}: no dark text on white"
    grid = pixels[CAPTION_HEIGHT:]
    assert (grid[:PADDING] == 255).all() and (grid[:, :PADDING] == 255).all()
    # At most max_tiles (the caption widens a narrow sheet), and a sheet that says so where nothing is wrong.
    few = _png(misclassified_png(images, actual, predicted, max_tiles=3))
    assert few.height == CAPTION_HEIGHT + tile_h + PADDING and few.width >= 3 * tile_w + PADDING
    assert (np.array(few)[CAPTION_HEIGHT:, 3 * tile_w + PADDING :] == 255).all()
    empty = np.array(_png(misclassified_png(images, actual, actual)))
    assert (empty < 128).any() and (empty == 255).mean() > 0.9


def test_the_gallery_caption_says_which_errors_it_shows_and_what_a_label_means():
    from mnist_pipeline.evaluation.gallery import CAPTION_HEIGHT, LABEL_HEIGHT, PADDING, SCALE, caption, label
    from mnist_pipeline.evaluation.gallery import misclassified_png

    actual = torch.arange(60) % 10
    predicted = torch.where(torch.arange(60) < 49, (actual + 1) % 10, actual)
    sheet = _png(misclassified_png(torch.zeros(60, 28, 28, dtype=torch.uint8), actual, predicted))
    assert sheet.height == CAPTION_HEIGHT + 5 * (28 * SCALE + LABEL_HEIGHT + PADDING) + PADDING  # 40 of 49: 5 rows of 8
    assert caption(40, 49)[0] == "The first 40 of 49 misclassified test digits, in test-set order."
    assert caption(7, 7)[0] == "All 7 misclassified test digits, in test-set order."
    assert caption(1, 1)[0] == "The one misclassified test digit."
    assert caption(40, 49)[1] == '"4 read as 8": a true 4 that the model predicted as 8.'
    assert label(4, 8) == "4 read as 8"  # the caption's example is the label's own format


def test_the_gallery_is_laid_out_as_torchvisions_make_grid():
    import numpy as np
    from PIL import ImageFont
    from torchvision.utils import make_grid

    from mnist_pipeline.evaluation.gallery import CAPTION_HEIGHT, PADDING, misclassified_png, tile

    images = torch.randint(0, 256, (20, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    actual, predicted = torch.zeros(20, dtype=torch.long), torch.ones(20, dtype=torch.long)
    font = ImageFont.load_default()
    for count in (3, 11):
        tiles = torch.stack([torch.from_numpy(np.array(tile(images[i], "0 read as 1", font)))[None] for i in range(count)])
        expected = make_grid(tiles, nrow=8, padding=PADDING, pad_value=255)[0].numpy()
        grid = np.array(_png(misclassified_png(images, actual, predicted, max_tiles=count)))[CAPTION_HEIGHT:]
        assert np.array_equal(grid[:, : expected.shape[1]], expected), count
        assert (grid[:, expected.shape[1] :] == 255).all(), count


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
