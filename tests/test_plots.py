"""What `dvc plots show` draws, read from its JSON on the committed metrics: each chart says which
model it shows, folds are categories, models have their own colours, and the page declares UTF-8;
and its page, opened in a browser with the network off, draws every plot.

A model added to params.yaml has no chart yet: its curves come with its first training, its fold
chart with its first `dvc repro crossval/dvc.yaml`. Until then DVC says it cannot find that file,
and these tests check the charts of the models that have them (a chart is never made up)."""

import html
import http.server
import json
import re
import subprocess
import threading

import pytest
import yaml
from dvc_render.base import Renderer

from mnist_pipeline.core import paths
from mnist_pipeline.core.params import model_names
from mnist_pipeline.sync import COMMAND as SYNC
from tests.browser import BROWSER, NO_BROWSER, dump_dom
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
def listed() -> dict[str, list[dict]]:
    """Every plot DVC lists, by name: its renders (`type` vega or image, `content`)."""
    shown = subprocess.run(["dvc", "plots", "show", "--json"], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(shown.stdout)
    assert [e for e in result.get("errors") or [] if not _not_written_yet(e)] == []
    return result["data"]


@pytest.fixture(scope="module")
def plots(listed) -> dict[str, dict]:
    """Each Vega plot's spec, by name."""
    return {name: renders[0]["content"] for name, renders in listed.items() if renders and renders[0]["type"] == "vega"}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The page `dvc plots show` writes (with the images it copies beside it), as a user gets it."""
    out = tmp_path_factory.mktemp("dvc_plots")
    subprocess.run(["dvc", "plots", "show", "-o", str(out)], cwd=ROOT, capture_output=True, check=True)
    return out / "index.html"


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


def test_the_page_declares_utf8(page):
    assert '<meta charset="utf-8">' in page.read_text(encoding="utf-8").split("</head>")[0]


SCRIPT_SOURCES = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)


def test_the_page_loads_no_script_from_the_network(page):
    """Offline, behind a proxy or on a plane the charts still draw: vega, vega-lite and vega-embed are
    inline in the page's template, which has no `{scripts}`, where DVC would put its CDN's tags."""
    template = (ROOT / ".dvc/plots/page.html").read_text(encoding="utf-8")
    assert "{scripts}" not in template, ".dvc/plots/page.html: DVC fills {scripts} with <script src=https://...>"
    sources = SCRIPT_SOURCES.findall(page.read_text(encoding="utf-8")) + SCRIPT_SOURCES.findall(template)
    assert [src for src in sources if re.match(r"(https?:)?//", src, re.IGNORECASE)] == []


def test_the_inline_libraries_are_the_versions_named_and_the_majors_dvc_writes_for():
    """The template says which vega, vega-lite and vega-embed it holds; DVC's own page (its CDN
    tags) names the major versions its templates are written for."""
    from dvc_render.vega import VegaRenderer

    template = (ROOT / ".dvc/plots/page.html").read_text(encoding="utf-8")
    inline = re.findall(r"<script>/\* ([a-z-]+) ([0-9.]+), [^\n]*\n(.*?)</script>", template, re.DOTALL)
    for name, version, code in inline:
        assert f'"{version}"' in code, f"{name}: the script is not version {version}"
    majors = {name: version.split(".")[0] for name, version, _ in inline}
    assert majors == dict(re.findall(r"npm/([a-z-]+)@(\d+)\.", VegaRenderer.SCRIPTS)) == \
        {"vega": "5", "vega-lite": "5", "vega-embed": "6"}


# Put before the page's first script: records its errors, then, once every plot has drawn (or 10 s of
# the page's time have passed), the size of what each plot's element drew, into <pre id="probe">.
PROBE = """<script>
var probeErrors = [];
window.addEventListener("error", function (event) { probeErrors.push(event.message); });
window.addEventListener("load", function () {
  var started = Date.now();
  var size = function (element) { var box = element.getBoundingClientRect(); return [box.width, box.height]; };
  (function look() {
    var plots = {};
    document.querySelectorAll("body > div[id]").forEach(function (div) {
      plots[div.id] = {
        marks: Array.from(div.querySelectorAll("canvas.marks, svg.marks"), size),
        images: Array.from(div.querySelectorAll("img"), function (img) { return img.naturalWidth ? size(img) : [0, 0]; })
      };
    });
    var waiting = Object.values(plots).some(function (p) { return !p.marks.length && !p.images.length; });
    if (waiting && Date.now() - started < 10000) { setTimeout(look, 100); return; }
    var report = document.createElement("pre");
    report.id = "probe";
    report.textContent = JSON.stringify({plots: plots, errors: probeErrors});
    document.body.appendChild(report);
  })();
});
</script>
"""


class _Script(http.server.BaseHTTPRequestHandler):
    """Serves a script that leaves <p id="reached"> in the page that loads it."""

    def do_GET(self):
        body = b'document.write("<p id=reached></p>");'
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _reached_over_http(tmp_path) -> dict[bool, bool]:
    """Whether Chromium, online and offline, loads a script served on this machine."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Script)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        remote = tmp_path / "remote.html"
        remote.write_text(f'<!DOCTYPE html><script src="http://127.0.0.1:{server.server_port}/x.js"></script>')
        return {offline: 'id="reached"' in dump_dom(remote.as_uri(), tmp_path / "profile", offline)
                for offline in (False, True)}
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow  # about 8 s: DVC writes the page, Chromium runs three times
@pytest.mark.skipif(BROWSER is None, reason=NO_BROWSER)
def test_every_plot_dvc_lists_draws_in_a_browser_without_network(listed, page, tmp_path):
    """Each Vega plot a canvas or SVG of non-zero size, each image loaded and shown, in a Chromium
    that cannot load even a script served on this machine."""
    reached = _reached_over_http(tmp_path)
    assert reached == {False: True, True: False}, f"loaded a script from 127.0.0.1, online and offline: {reached}"
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("<script", PROBE + "<script", 1), encoding="utf-8")
    dom = dump_dom(probe.as_uri(), tmp_path / "profile")
    report = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL).group(1)))
    undrawn = []
    for name, renders in listed.items():
        if not renders:  # a model's file not written yet: no chart to draw
            continue
        drawn = report["plots"].get(Renderer.remove_special_chars(name), {})
        sizes = drawn.get("marks" if renders[0]["type"] == "vega" else "images", [])
        if not sizes or not all(width > 0 and height > 0 for width, height in sizes):
            undrawn.append(name)
    assert undrawn == [], f"{len(undrawn)} of {len(listed)} plots drew nothing: {undrawn}; errors: {report['errors'][:3]}"
