"""The one loader of params.yaml: each stage gets its validated section as a dataclass.

Errors name the key at fault and what is allowed, e.g.
`params.yaml: train.lrr: unknown key (allowed: batch_size, epochs, ...)`.
"""

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from mnist_pipeline.dataset import RAW_FILES
from mnist_pipeline.errors import PipelineError

PARAMS_FILE = Path("params.yaml")
DEVICES = ("auto", "cpu", "cuda", "mps")


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


def _check(rule: Callable[[Any], bool], allowed: str) -> dict:
    return {"rule": rule, "allowed": allowed}


def _positive(v):
    return v > 0


@dataclass(frozen=True)
class DownloadParams:
    sources: list = field(metadata=_check(lambda v: len(v) > 0, "a non-empty list"))
    sha256: dict = field(metadata=_check(lambda v: True, "one SHA-256 per MNIST file"))
    timeout_s: float = field(default=30.0, metadata=_check(_positive, "> 0"))


@dataclass(frozen=True)
class PreprocessParams:
    val_size: int = field(metadata=_check(_positive, ">= 1"))
    seed: int = 0


@dataclass(frozen=True)
class TrainParams:
    batch_size: int = field(metadata=_check(_positive, ">= 1"))
    epochs: int = field(metadata=_check(_positive, ">= 1"))
    lr: float = field(metadata=_check(_positive, "> 0"))
    weight_decay: float = field(default=0.0, metadata=_check(lambda v: v >= 0, ">= 0"))
    lr_factor: float = field(default=0.1, metadata=_check(lambda v: 0 < v < 1, "between 0 and 1"))
    lr_patience: int = field(default=3, metadata=_check(lambda v: v >= 0, ">= 0"))
    early_stopping_patience: int = field(
        default=0, metadata=_check(lambda v: v >= 0, ">= 0 (0 turns early stopping off)")
    )
    seed: int = 0
    device: str = field(default="auto", metadata=_check(lambda v: v in DEVICES, "|".join(DEVICES)))
    threads: int = field(default=0, metadata=_check(lambda v: v >= 0, ">= 0 (0 = one per core)"))


@dataclass(frozen=True)
class EvaluateParams:
    batch_size: int = field(default=1000, metadata=_check(_positive, ">= 1"))
    device: str = field(default="auto", metadata=_check(lambda v: v in DEVICES, "|".join(DEVICES)))


def load_params(path: str | Path = PARAMS_FILE) -> dict:
    """Read params.yaml as a mapping; a missing or malformed file is a PipelineError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read params file ({exc.strerror})") from None
    try:
        params = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: expected a mapping of sections at the top level")
    return params


def _section(params: dict, key: str) -> dict:
    value = params.get(key)
    if not isinstance(value, dict):
        raise PipelineError(f"{PARAMS_FILE}: {key}: missing section (expected a mapping)")
    return value


def _coerce(value: Any, kind: type, where: str) -> Any:
    """Check value against a field's type; ints are accepted where floats are expected."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    valid = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and valid and not math.isfinite(value):
        valid = False
    if not valid:
        names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
        raise PipelineError(f"{PARAMS_FILE}: {where}: expected {names[kind]}, got {value!r}")
    return value


def _build(cls: type, values: dict, where: str, origins: dict | None = None) -> Any:
    """Validate values against cls's fields and construct it.

    where prefixes each key in errors; origins maps a key to another prefix (an override's).
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        at = f"{(origins or {}).get(key, where)}.{key}"
        if key not in fields:
            raise PipelineError(f"{PARAMS_FILE}: {at}: unknown key (allowed: {', '.join(fields)})")
        spec = fields[key]
        value = _coerce(value, spec.type, at)
        rule = spec.metadata.get("rule")
        if rule and not rule(value):
            raise PipelineError(
                f"{PARAMS_FILE}: {at}: invalid value {value!r} (allowed: {spec.metadata['allowed']})"
            )
        kwargs[key] = value
    for name, spec in fields.items():
        if name not in kwargs and spec.default is dataclasses.MISSING:
            raise PipelineError(f"{PARAMS_FILE}: {where}.{name}: required key is missing")
    return cls(**kwargs)


def download_params(params: dict) -> DownloadParams:
    result = _build(DownloadParams, _section(params, "download"), "download")
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
    return _build(PreprocessParams, _section(params, "preprocess"), "preprocess")


def evaluate_params(params: dict) -> EvaluateParams:
    return _build(EvaluateParams, _section(params, "evaluate"), "evaluate")


def train_params(params: dict, model: str, architecture_args: dict) -> tuple[TrainParams, dict]:
    """The shared `train` section with `models.<model>` overrides applied.

    A model block may override any train key (null means "use the value under train") or set
    one of the model's own constructor arguments (architecture_args: name -> default; null means
    the default). Returns (train params, model kwargs).
    """
    models = _section(params, "models")
    if model not in models:
        raise PipelineError(
            f"{PARAMS_FILE}: models.{model}: unknown model (defined: {', '.join(models) or 'none'})"
        )
    block = models[model] if models[model] is not None else {}
    if not isinstance(block, dict):
        raise PipelineError(f"{PARAMS_FILE}: models.{model}: expected a mapping")
    train_keys = [f.name for f in dataclasses.fields(TrainParams)]
    overrides, model_kwargs = {}, {}
    for key, value in block.items():
        if key not in train_keys and key not in architecture_args:
            allowed = train_keys + sorted(architecture_args)
            raise PipelineError(
                f"{PARAMS_FILE}: models.{model}.{key}: unknown key (allowed: {', '.join(allowed)})"
            )
        if value is None:
            continue
        if key in train_keys:
            overrides[key] = value
        else:
            default = architecture_args[key]
            kind = type(default) if default is not None else type(value)
            model_kwargs[key] = _coerce(value, kind, f"models.{model}.{key}")
    shared = _section(params, "train")
    _build(TrainParams, shared, "train")  # a bad shared value is an error even where overridden
    origins = {key: f"models.{model}" for key in overrides}
    train = _build(TrainParams, {**shared, **overrides}, "train", origins)
    return train, model_kwargs
