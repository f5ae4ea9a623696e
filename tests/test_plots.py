"""What `dvc plots show` draws, read from its JSON on the committed metrics: each chart says which
model it shows, folds are categories, models have their own colours, and the page declares UTF-8.

A model added to params.yaml has no chart yet: its curves come with its first training, its fold
chart with its first `dvc repro crossval/dvc.yaml`. Until then DVC says it cannot find that file,
and these tests check the charts of the models that have them (a chart is never made up)."""

import json
import re
import subprocess

import pytest
import yaml

from mnist_pipeline.core import paths
from mnist_pipeline.core.params import model_names
from mnist_pipeline.sync import COMMAND as SYNC
from tests.project import ROOT, project_params

PARAMS = project_params()
MODELS = model_names(PARAMS)
CURVES = ("validation_accuracy", "loss", "learning_rate")
TRAINED = [m for m in MODELS if (ROOT / paths.live_dir(m) / "plots").is_dir()]
EVALUATED = [m for m in MODELS if (ROOT / paths.model_metrics(m, "predictions.csv")).is_file()]
CROSS_VALIDATED = [m for m in MODELS if (ROOT / paths.fold_plot(m)).is_file()]


def _averaged(name: str) -> bool:
    """Whether the model validates a moving average of its weights (`ema` > 0), its own or train's."""
    return float((PARAMS["models"][name] or {}).get("ema", PARAMS["train"]["ema"])) > 0


def _not_written_yet(error: dict) -> bool:
    """DVC's error for a file that a model's stage has not written yet (and nothing else)."""
    model = re.match(r"(?:metrics|crossval/plots)/(\w+?)(?:/|\.csv$)", error["source"])
    return (error["type"] == "FileNotFoundError" and not (ROOT / error["source"]).exists()
            and model is not None and model.group(1) in MODELS)


@pytest.fixture(scope="module")
def plots() -> dict[str, dict]:
    shown = subprocess.run(["dvc", "plots", "show", "--json"], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(shown.stdout)
    assert [e for e in result.get("errors") or [] if not _not_written_yet(e)] == []
    return {name: renders[0]["content"] for name, renders in result["data"].items()
            if renders and renders[0]["type"] == "vega"}


def _encodings(spec: dict) -> list[dict]:
    """Every encoding in the spec, its layers' included."""
    return [spec.get("encoding", {})] + [e for layer in spec.get("layer", []) for e in _encodings(layer)]


def _axis(spec: dict, channel: str) -> dict:
    (axis,) = [e[channel] for e in _encodings(spec) if "field" in e.get(channel, {}) and "aggregate" not in e[channel]]
    return axis


def test_every_per_model_chart_names_its_model_first(plots):
    charts = {**{f"metrics/{m}/predictions.csv": m for m in EVALUATED}, **{f"crossval/plots/{m}.csv": m for m in CROSS_VALIDATED}}
    assert sorted(name for name in plots if name not in CURVES) == sorted(charts)
    for chart, model in charts.items():
        title = plots[chart]["title"]["text"]
        assert title.startswith(f"{model}: "), (chart, title)
    assert plots[f"metrics/{EVALUATED[0]}/predictions.csv"]["title"]["text"].endswith("confusion matrix on the test set")


def test_fold_charts_draw_folds_as_categories_with_labelled_axes(plots):
    for model in CROSS_VALIDATED:
        spec = plots[f"crossval/plots/{model}.csv"]
        x, y = _axis(spec, "x"), _axis(spec, "y")
        assert (x["field"], x["type"], x["title"]) == ("fold", "nominal", "fold")
        assert (y["field"], y["type"], y["title"]) == ("val_accuracy", "quantitative", "validation accuracy")
        assert [v["fold"] for v in spec["data"]["values"]] == [str(i) for i in range(1, len(spec["data"]["values"]) + 1)]


def test_training_curves_colour_each_model_and_label_their_axes(plots):
    for name in CURVES:
        spec = plots[name]
        x, y = _axis(spec, "x"), _axis(spec, "y")
        assert (x["field"], x["title"]) == ("step", "epoch")
        assert y["title"] in ("validation accuracy", "loss", "learning rate")
        assert spec["encoding"]["color"]["field"] == "model"
        # The template's own expression, run here on each point: it must name one model per file.
        (derive,) = [t for t in spec["transform"] if t.get("as") == "model"]
        pattern = re.search(r"regexp\('([^']*)'\)", derive["calculate"]).group(1)
        drawn = {re.sub(pattern, r"\2", v["filename"]) for v in spec["data"]["values"]}
        assert drawn == set(TRAINED), name


def test_the_weight_averaged_curves_say_so(plots):
    """A weight average starts near the initial weights: its first epochs look like a failed run
    unless the chart says what it shows."""
    averaged = [m for m in MODELS if _averaged(m)]
    for name in ("validation_accuracy", "loss"):
        title = plots[name]["title"]["text"]
        assert [m for m in MODELS if m in title] == averaged, f"dvc.yaml: plots: {name}: its title names {averaged}: {title}"
        assert ("weight average" in title) == bool(averaged), (name, title)


def test_every_model_has_its_fold_chart_in_crossval_dvc_yaml():
    """DVC cannot iterate in a plots section: a model added to params.yaml needs its line there."""
    defined = [next(iter(p)) for p in yaml.safe_load((ROOT / "crossval/dvc.yaml").read_text())["plots"]]
    assert sorted(defined) == sorted(f"plots/{m}.csv" for m in MODELS), f"crossval/dvc.yaml: plots: run `{SYNC}`"


def test_the_page_declares_utf8(tmp_path):
    subprocess.run(["dvc", "plots", "show", "-o", str(tmp_path)], cwd=ROOT, capture_output=True, check=True)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page.split("</head>")[0]
