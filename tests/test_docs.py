"""The docs answer within their word budgets, and every figure in their prose is one the pipeline or
a benchmark wrote into a generated block, so a regenerated result cannot leave old prose behind."""

import re

import pytest

from tests.project import ROOT

# Words of prose: outside tables, code blocks and generated blocks.
BUDGETS = {"docs/models.md": 1800, "docs/performance.md": 1500, "docs/experiments.md": 2000}
BLOCK = re.compile(r"<!-- ([\w-]+):start -->\n(.*?)<!-- \1:end -->", re.S)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
DETAILS = re.compile(r"<details>.*?</details>", re.S)
# A measured figure: a percentage, a decimal, or a count with a thousands separator.
# Not measurements: the accuracy target, the data's sizes, model_3's parameter budget; and versions.
DEFINITIONS = {"99%", "99.0%", "60,000", "55,000", "5,000", "8,000"}
VERSION = re.compile(r"\b(?:DVC|Ray|torch|Python) \d+\.\d+(?:\.\d+)?")
FIGURE = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+\.\d+|\d+)(?:%| s\b| pp\b)|(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d])|(?<![\w.])\d+\.\d+(?![\d.])")


def prose(text: str) -> str:
    text = BLOCK.sub("", text)
    text = FENCE.sub("", text)
    text = DETAILS.sub("", text)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))


def prose_words(text: str) -> int:
    return len(re.findall(r"[\w`'’-]+", re.sub(r"<!--.*?-->|\]\([^)]*\)", " ", prose(text), flags=re.S)))


def generated(text: str) -> str:
    return "\n".join(body for _, body in BLOCK.findall(text))


def test_prose_words_are_counted_outside_tables_code_and_generated_blocks():
    page = "Two words.\n\n| a | b |\n| --- | --- |\n\n```\nnot these\n```\n<!-- x:start -->\nnor these\n<!-- x:end -->\n"
    assert prose_words(page) == 2
    assert FIGURE.findall("99.55% and 7,946 and 0.9 s and +0.08 pp, not 20 epochs or model_3") == \
        ["99.55%", "7,946", "0.9 s", "0.08 pp"]


@pytest.mark.parametrize("page", sorted(BUDGETS))
def test_each_page_keeps_to_its_word_budget(page):
    words = prose_words((ROOT / page).read_text())
    assert words <= BUDGETS[page], f"{page}: {words} words of prose, budget {BUDGETS[page]}"


@pytest.mark.parametrize("page", sorted(BUDGETS))
def test_every_figure_in_prose_is_in_a_generated_block(page):
    """Regenerate the blocks (`python -m mnist_pipeline.readme`, the benchmarks with --docs) and a
    figure the prose repeats must still be there, or this names it."""
    text = (ROOT / page).read_text()
    sources = generated(text) + (ROOT / "params.yaml").read_text()  # a value of params.yaml is no measurement
    stray = [f for f in FIGURE.findall(VERSION.sub("", prose(text)))
             if f not in DEFINITIONS and f.split()[0].lstrip("+-") not in sources]
    assert stray == [], f"{page}: figures in prose that no generated block holds: {stray}"


def test_models_page_recipes_are_params_yaml(monkeypatch):
    """docs/models.md's recipes block is each model's block of params.yaml (its results block is
    checked with the README's, in tests/test_dvc_yaml.py)."""
    from mnist_pipeline.readme import block
    from mnist_pipeline.sync import COMMAND, MODELS_DOC, recipes_block
    from tests.project import project_params

    monkeypatch.chdir(ROOT)
    assert block(MODELS_DOC.read_text(), "recipes") == recipes_block(project_params()), \
        f"{MODELS_DOC}: its recipes block is not params.yaml's models; run `{COMMAND}`"
