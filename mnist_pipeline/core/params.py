"""params.yaml, the one configuration surface: each section's keys, types and checks live here,
their values live in params.yaml (every key there, so the file shows the whole recipe).

Adding a training option: a field in `TrainParams` with its check, and its line under `train:`.
Errors name the key at fault and what is allowed, e.g.
`params.yaml: train.lrr: unknown key (allowed: batch_size, epochs, ...)`.
"""

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import RAW_FILES
from mnist_pipeline.core.paths import PARAMS_FILE

DEVICES = ("auto", "cpu", "cuda", "mps")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("plateau", "onecycle", "cosine")
CORES = os.cpu_count() or 1


def check(rule: Callable[[Any], bool], allowed: str) -> Any:
    """A required field whose value must satisfy rule; allowed says what passes, for errors."""
    return field(metadata={"rule": rule, "allowed": allowed})


def positive(allowed: str = "> 0"):
    return check(lambda v: v > 0, allowed)


def at_least_zero(allowed: str = ">= 0"):
    return check(lambda v: v >= 0, allowed)


def one_of(values: tuple):
    return check(lambda v: v in values, "|".join(values))


def anything():
    return check(lambda v: True, "any value of its type")


@dataclass(frozen=True)
class DownloadParams:
    sources: list = check(lambda v: len(v) > 0, "a non-empty list")
    timeout_s: float = positive()
    sha256: dict = anything()  # each digest is checked in download_params


@dataclass(frozen=True)
class PreprocessParams:
    val_size: int = positive(">= 1")
    seed: int = anything()


@dataclass(frozen=True)
class TrainParams:
    """The training recipe. `models.<name>` in params.yaml may override any of these for one model."""

    batch_size: int = positive(">= 1")
    # A fraction ends training part-way through the last epoch (its schedule with it): 1.5 = 1 epoch and half of another.
    epochs: float = positive("> 0, e.g. 12 or 1.5")
    optimizer: str = one_of(OPTIMIZERS)
    lr: float = positive()
    momentum: float = check(lambda v: 0 < v < 1, "between 0 and 1 (sgd's Nesterov momentum)")
    weight_decay: float = at_least_zero()
    schedule: str = one_of(SCHEDULES)
    lr_factor: float = check(lambda v: 0 < v < 1, "between 0 and 1")
    lr_patience: int = at_least_zero()
    warmup: float = check(lambda v: 0 < v < 1, "between 0 and 1 (onecycle's fraction of steps spent warming up)")
    label_smoothing: float = check(lambda v: 0 <= v < 1, "from 0 up to, not including, 1")
    augment_rotate: float = check(lambda v: 0 <= v <= 180, "0..180 degrees")
    augment_translate: float = check(lambda v: 0 <= v <= 0.5, "0..0.5 of the image size")
    augment_scale: float = check(lambda v: 0 <= v <= 0.5, "0..0.5")
    augment_low_res: float = check(lambda v: 0 <= v <= 1, "0..1, the share of images seen at a lower resolution")
    # The decay per step of an exponential moving average of the weights, which is then what is
    # validated, kept and tested: 0 = off; 0.999 averages over about the last 1,000 steps.
    ema: float = check(lambda v: 0 <= v < 1, "0 (off) or a decay from 0 up to, not including, 1, e.g. 0.999")
    early_stopping_patience: int = at_least_zero(">= 0 (0 turns early stopping off)")
    seed: int = anything()
    device: str = one_of(DEVICES)
    # More threads than cores only adds waiting: 2,001 threads on 2 cores never finished an epoch.
    threads: int = check(lambda v: 0 <= v <= CORES, f"0..{CORES}: 0 = one per core, and this machine has {CORES}")


@dataclass(frozen=True)
class EvaluateParams:
    device: str = one_of(DEVICES)


@dataclass(frozen=True)
class CrossvalParams:
    """k-fold cross-validation (crossval/dvc.yaml): DVC makes one stage per entry of `folds`, so the
    list is the folds themselves, 1..k."""

    folds: list = check(
        lambda v: len(v) >= 2 and [type(i) for i in v] == [int] * len(v) and v == list(range(1, len(v) + 1)),
        "the fold numbers 1..k for k >= 2, e.g. [1, 2, 3, 4, 5]",
    )
    seed: int = anything()
    # A fold's share of one GPU where folds train on CUDA through Ray: 0.25 lets four share it.
    # Where a fold runs changes no result, so the cross-validation digest leaves it out.
    gpus_per_fold: float = check(lambda v: 0 < v <= 1, "above 0, at most 1 (a fold's share of one GPU)")

    @property
    def k(self) -> int:
        return len(self.folds)


@dataclass(frozen=True)
class Recipe:
    """What one model is trained with: the merged training params and its constructor's hyperparameters."""

    train: TrainParams
    hyperparameters: dict


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `1e-3` as a float, as YAML 1.2 (and DVC) do, not as a string."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_params(path: str | Path = PARAMS_FILE) -> dict:
    """Read params.yaml as a mapping; a missing or malformed file is a PipelineError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read params file ({exc.strerror})") from None
    return parse_params(text, path)


def parse_params(text: str, path: str | Path = PARAMS_FILE) -> dict:
    """params.yaml's text as a mapping (path names it in errors: e.g. a revision's copy)."""
    try:
        params = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PipelineError(f"{path}: not valid YAML ({where}{problem})") from None
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: expected a mapping of sections at the top level")
    return params


def _section(params: dict, key: str) -> dict:
    value = params.get(key)
    if not isinstance(value, dict):
        raise PipelineError(f"{PARAMS_FILE}: {key}: missing section (expected a mapping)")
    return value


def coerce(value: Any, kind: type, where: str) -> Any:
    """Check value against a type; ints are accepted where floats are expected."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    valid = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and valid and not math.isfinite(value):
        valid = False
    if not valid:
        names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
        raise PipelineError(f"{PARAMS_FILE}: {where}: expected {names.get(kind, kind.__name__)}, got {value!r}")
    return value


def _build(cls: type, values: dict, where: dict[str, str]) -> Any:
    """Validate values against cls's fields and construct it; where[key] is the key's place in errors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise PipelineError(f"{PARAMS_FILE}: {where[key]}: unknown key (allowed: {', '.join(fields)})")
        spec = fields[key]
        kwargs[key] = coerce(value, spec.type, where[key])
        if not spec.metadata["rule"](kwargs[key]):
            allowed = spec.metadata["allowed"]
            raise PipelineError(f"{PARAMS_FILE}: {where[key]}: invalid value {value!r} (allowed: {allowed})")
    for name in fields:
        if name not in kwargs:
            raise PipelineError(f"{PARAMS_FILE}: {where[name]}: required key is missing")
    return cls(**kwargs)


def _section_params(cls: type, params: dict, name: str) -> Any:
    values = _section(params, name)
    where = {key: f"{name}.{key}" for key in [*values, *(f.name for f in dataclasses.fields(cls))]}
    return _build(cls, values, where)


SECTIONS = ("download", "preprocess", "train", "models", "evaluate", "crossval")


def check_sections(params: dict) -> None:
    """Every top-level key is a known section (a misspelt one would otherwise be silently ignored)."""
    for key in params:
        if key not in SECTIONS:
            raise PipelineError(f"{PARAMS_FILE}: {key}: unknown section (allowed: {', '.join(SECTIONS)})")


def download_params(params: dict) -> DownloadParams:
    result = _section_params(DownloadParams, params, "download")
    for i, source in enumerate(result.sources):
        if not isinstance(source, str) or not source:
            raise PipelineError(f"{PARAMS_FILE}: download.sources[{i}]: expected a URL or path, got {source!r}")
    for name, digest in result.sha256.items():
        if name not in RAW_FILES:
            raise PipelineError(
                f"{PARAMS_FILE}: download.sha256.{name}: unknown file (allowed: {', '.join(RAW_FILES)})"
            )
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise PipelineError(f"{PARAMS_FILE}: download.sha256.{name}: expected 64 lowercase hex digits")
    for name in RAW_FILES:
        if name not in result.sha256:
            raise PipelineError(f"{PARAMS_FILE}: download.sha256.{name}: required key is missing")
    return result


def preprocess_params(params: dict) -> PreprocessParams:
    return _section_params(PreprocessParams, params, "preprocess")


def evaluate_params(params: dict) -> EvaluateParams:
    return _section_params(EvaluateParams, params, "evaluate")


def crossval_params(params: dict) -> CrossvalParams:
    return _section_params(CrossvalParams, params, "crossval")


def model_names(params: dict) -> list[str]:
    """The models to train, in params.yaml's order: the keys of its `models` section."""
    return list(_section(params, "models"))


def model_recipe(params: dict, model: str, hyperparameter_types: dict[str, type]) -> Recipe:
    """The `train` section with `models.<model>`'s overrides applied, and the model's hyperparameters.

    A model block holds the model's constructor hyperparameters (hyperparameter_types: name -> type,
    every one required) and, optionally, any train key to override for this model alone.
    """
    models = _section(params, "models")
    if model not in models:
        raise PipelineError(f"{PARAMS_FILE}: models.{model}: unknown model (defined: {', '.join(models) or 'none'})")
    block = models[model] if models[model] is not None else {}
    if not isinstance(block, dict):
        raise PipelineError(f"{PARAMS_FILE}: models.{model}: expected a mapping")
    train_keys = [f.name for f in dataclasses.fields(TrainParams)]
    shared = _section(params, "train")
    _section_params(TrainParams, params, "train")  # a bad shared value is an error even where overridden
    hyperparameters, overrides = {}, {}
    for key, value in block.items():
        where = f"models.{model}.{key}"
        if key in hyperparameter_types:
            hyperparameters[key] = coerce(value, hyperparameter_types[key], where)
        elif key in train_keys:
            overrides[key] = value
        else:
            allowed = ", ".join([*hyperparameter_types, *train_keys])
            raise PipelineError(f"{PARAMS_FILE}: {where}: unknown key (allowed: {allowed})")
    for key in hyperparameter_types:
        if key not in hyperparameters:
            raise PipelineError(f"{PARAMS_FILE}: models.{model}.{key}: required key is missing")
    where = {key: f"models.{model}.{key}" if key in overrides else f"train.{key}" for key in [*shared, *train_keys]}
    return Recipe(_build(TrainParams, {**shared, **overrides}, where), hyperparameters)
