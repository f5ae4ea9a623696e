"""params.yaml's schema: each key's type, bound and meaning, stated once; its values live in params.yaml
(every key there, so the file shows the whole recipe).

Adding a training option: a field in `TrainParams` and its line under `train:`. A bad value is one
line derived from the field (core/schema_errors.py), e.g. `params.yaml: train.lr: invalid value -1
(allowed: > 0)`. Rules that need the data or the machine live in core/limits.py.
"""

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic.dataclasses import dataclass as schema

from mnist_pipeline.core import catalog
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.mnist import RAW_FILES
from mnist_pipeline.core.params_file import load_params, parse_params  # noqa: F401 (the loaders' home is params_file)
from mnist_pipeline.core.paths import PARAMS_FILE
from mnist_pipeline.core.schema_errors import Refused, first_error

# No coercion (a quoted "2" is not a number), no unknown keys, no nan or inf; ints pass as floats.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Device = Literal["auto", "cpu", "cuda", "mps"]
DEVICES = get_args(Device)
# An extra download source, tried first (as is each `download --mirror`).
MIRROR_ENV = "MNIST_MIRROR"
# torch reads seeds, counts and sizes as signed 64-bit integers.
INT64 = 2**63


def source_problem(source: str) -> str | None:
    """What is wrong with a download source (params.yaml's, or $MNIST_MIRROR / --mirror), or None: a
    URL must parse, host and port included; anything else is a folder, tried as one."""
    if not source:
        return "expected a URL or path"
    if "\0" in source:
        return "a NUL character"
    try:
        parts = urllib.parse.urlsplit(source)
        if parts.scheme in ("http", "https"):
            parts.port  # noqa: B018 (parsed only when read: `:99999`, `:x`)
            if not parts.hostname:
                raise ValueError("no host")
            if not source.isascii() or any(c <= " " or c == "\x7f" for c in source):
                raise ValueError("spaces, control or non-ASCII characters; percent-encode them")
            parts.hostname.encode("idna")  # each label 1..63 characters
    except (ValueError, UnicodeError) as exc:
        return f"not a URL: {exc}"
    return None


def extra_sources(mirrors: list[str], environ: dict) -> list[str]:
    """The download sources tried before params.yaml's: `--mirror`'s, then $MNIST_MIRROR's; one that
    cannot be a source is refused in one line (by check too, before DVC deletes data/raw)."""
    named = [(f"--mirror {mirror}", mirror) for mirror in mirrors]
    if environ.get(MIRROR_ENV):
        named.append((f"{MIRROR_ENV}={environ[MIRROR_ENV]}", environ[MIRROR_ENV]))
    for where, source in named:
        problem = source_problem(source)
        if problem:
            raise PipelineError(f"{where}: {problem}; fix it or leave it out")
    return [source for _, source in named]


def seed(meaning: str) -> Any:
    return Field(ge=0, lt=INT64, description=meaning)


@schema(frozen=True, config=STRICT)
class DownloadParams:
    sources: list[str] = Field(min_length=1, description="URLs or folders tried in order")
    # At most a day: sockets refuse a timeout past 2^63 ns (~292 years), and pip's download gets ten times this.
    timeout_s: float = Field(gt=0, le=86_400, description="seconds before a source counts as unreachable")
    sha256: dict[str, str] = Field(description="each raw file's SHA-256 after decompression")

    @field_validator("sources")
    @classmethod
    def _non_empty(cls, sources: list[str]) -> list[str]:
        for i, source in enumerate(sources):
            problem = source_problem(source)
            if problem:
                raise Refused(f"expected a URL or path, got {source!r}" if not source
                              else f"invalid value {source!r} ({problem})", f"[{i}]")
        return sources

    @field_validator("sha256")
    @classmethod
    def _every_file(cls, digests: dict[str, str]) -> dict[str, str]:
        for name, digest in digests.items():
            if name not in RAW_FILES:
                raise Refused(f"unknown file (allowed: {', '.join(RAW_FILES)})", name)
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise Refused("expected 64 lowercase hex digits", name)
        for name in RAW_FILES:
            if name not in digests:
                raise Refused("required key is missing", name)
        return digests


@schema(frozen=True, config=STRICT)
class PreprocessParams:
    val_size: int = Field(ge=1, lt=INT64, description="training images held out for validation")
    seed: int = seed("seed of the train/validation split")


@schema(frozen=True, config=STRICT)
class TrainParams:
    """The training recipe. `models.<name>` in params.yaml may override any of these for one model."""

    batch_size: int = Field(ge=1, lt=INT64, description="images per step")
    # A million at most: far past any training, and the step count (epochs x steps) stays an exact integer.
    epochs: float = Field(gt=0, le=1_000_000, examples=[12, 1.5],
                          description="a fraction ends training part-way through the last epoch")
    optimizer: Literal["adam", "adamw", "sgd", "muon"] = Field(
        description="sgd is with Nesterov momentum; muon orthogonalizes the momentum of the convolution and hidden "
                    "linear weights (at muon_lr) and runs Adam on the rest")
    lr: float = Field(gt=0, description="the learning rate; onecycle's peak")
    # Muon's steps are orthogonal matrices times this: past 10 a step is no training, and near float's
    # largest value it overflows where Adam's steps would diverge (tests/test_bounds.py walks it).
    muon_lr: float = Field(gt=0, le=10, description="muon: the learning rate of the weights Muon updates; onecycle's peak")
    momentum: float = Field(gt=0, lt=1, description="sgd's and muon's Nesterov momentum")
    weight_decay: float = Field(ge=0, description="L2 (adam, sgd, muon's Adam part) or decoupled (adamw, "
                                                        "muon's weight matrices) weight decay")
    schedule: Literal["plateau", "onecycle", "cosine"] = Field(description="onecycle and cosine step every batch")
    lr_factor: float = Field(gt=0, lt=1, description="plateau: lr times this on a plateau")
    lr_patience: int = Field(ge=0, lt=INT64, description="plateau: epochs without a better validation accuracy")
    warmup: float = Field(gt=0, lt=1, description="onecycle: the fraction of the steps spent rising to lr")
    label_smoothing: float = Field(ge=0, lt=1, description="share of each target spread over the other classes")
    augment_rotate: float = Field(ge=0, le=180, description="± degrees of rotation")
    augment_translate: float = Field(ge=0, le=0.5, description="± shift per axis, a fraction of the image size")
    augment_scale: float = Field(ge=0, le=0.5, description="± zoom, a fraction")
    augment_low_res: float = Field(ge=0, le=1, description="share of images seen at a lower resolution")
    ema: float = Field(ge=0, lt=1, examples=["0 (off)", 0.999],
                       description="decay per step of a moving average of the weights, which is then what is validated and kept")
    early_stopping_patience: int = Field(ge=0, lt=INT64, json_schema_extra={"note": "0 turns early stopping off"},
                                         description="epochs without improvement before stopping")
    precision: Literal["float32", "bfloat16"] = Field(
        description="bfloat16: training's convolutions and matrix products in bfloat16 (autocast), faster where the "
                    "CPU has it natively (AVX512-BF16, AMX); results then depend on that instruction set too. "
                    "Validation, test and predict stay float32")
    seed: int = seed("weight init, shuffling, augmentation and dropout")
    device: Device = Field(description="auto: CUDA, then MPS, then CPU")
    # Above the machine's cores is a warning of check's and clamped where used (training/device.py),
    # so one params.yaml is valid on every machine.
    threads: int = Field(ge=0, lt=INT64, json_schema_extra={"note": "0 = one per core"}, description="CPU threads")


@schema(frozen=True, config=STRICT)
class EvaluateParams:
    device: Device = Field(description="auto: CUDA, then MPS, then CPU")


@schema(frozen=True, config=STRICT)
class CrossvalParams:
    """k-fold cross-validation (crossval/dvc.yaml): DVC makes one stage per entry of `folds`, so the
    list is the folds themselves, 1..k."""

    folds: list = Field(description="the folds, 1..k, one DVC stage each")
    seed: int = seed("seed of the stratified assignment of images to folds")
    # Where a fold runs changes no result, so the cross-validation digest leaves it out.
    # Ray counts resources in steps of 0.0001 and refuses a smaller share.
    gpus_per_fold: float = Field(ge=0.0001, le=1, description="a fold's share of one GPU where folds train on CUDA")

    @field_validator("folds")
    @classmethod
    def _one_to_k(cls, folds: list) -> list:
        if len(folds) < 2 or [type(i) for i in folds] != [int] * len(folds) or folds != list(range(1, len(folds) + 1)):
            raise Refused(f"invalid value {folds!r} (allowed: the fold numbers 1..k for k >= 2, e.g. [1, 2, 3, 4, 5])")
        return folds

    @property
    def k(self) -> int:
        return len(self.folds)


@dataclass(frozen=True)
class Recipe:
    """What one model is trained with: the merged training params and its constructor's hyperparameters."""

    train: TrainParams
    hyperparameters: dict


SECTIONS = {"download": DownloadParams, "preprocess": PreprocessParams, "train": TrainParams, "models": None,
            "evaluate": EvaluateParams, "crossval": CrossvalParams}


def validate(cls: type, values: dict, where) -> Any:
    """cls built from values, or the first error in one line; where(key) is the key's place in params.yaml."""
    fields = cls.__pydantic_fields__
    for key in values:
        if not isinstance(key, str):  # YAML allows `1: x`; a keyword cannot be one
            raise PipelineError(f"{PARAMS_FILE}: {where(str(key))}: unknown key (allowed: {', '.join(fields)})")
    try:
        return cls.model_validate(values) if issubclass(cls, BaseModel) else cls(**values)
    except ValidationError as exc:
        raise first_error(exc, fields, where) from None


def check_sections(params: dict) -> None:
    """Every top-level key is a known section (a misspelt one would otherwise be silently ignored)."""
    for key in params:
        if key not in SECTIONS:
            raise PipelineError(f"{PARAMS_FILE}: {key}: unknown section (allowed: {', '.join(SECTIONS)})")


def section(params: dict, key: str) -> dict:
    value = params.get(key)
    if key not in params:
        raise PipelineError(f"{PARAMS_FILE}: {key}: missing section (expected a mapping)")
    if not isinstance(value, dict):
        raise PipelineError(f"{PARAMS_FILE}: {key}: expected a mapping, got {value!r}")
    return value


def _section_params(name: str, params: dict) -> Any:
    return validate(SECTIONS[name], section(params, name), lambda key: f"{name}.{key}")


def download_params(params: dict) -> DownloadParams:
    return _section_params("download", params)


def preprocess_params(params: dict) -> PreprocessParams:
    return _section_params("preprocess", params)


def evaluate_params(params: dict) -> EvaluateParams:
    return _section_params("evaluate", params)


def crossval_params(params: dict) -> CrossvalParams:
    return _section_params("crossval", params)


def model_names(params: dict) -> list[str]:
    """The models to train, in params.yaml's order: the keys of its `models` section (at least one:
    `-S models={}` would run an experiment that trains nothing)."""
    names = list(section(params, "models"))
    if not names:
        raise PipelineError(f"{PARAMS_FILE}: models: no model (allowed: one or more, e.g. model_1: {{}})")
    return names


def recipe_inputs(params: dict, model: str) -> tuple:
    """What model's recipe is made of, as written: to tell whether params.yaml changed it."""
    return params.get("train"), (params.get("models") or {}).get(model)


def hyperparameters_schema(model: str, types: dict[str, type]) -> type:
    """models/<model>.py's constructor as a schema: each hyperparameter's type, and its LIMITS."""
    limits = catalog.hyperparameter_limits(model) if model in catalog.model_files() else {}
    note = {"note": f"as models/{model}.py's LIMITS say"}
    fields = {key: (kind, Field(ge=limits[key][0], lt=limits[key][1], json_schema_extra=note) if key in limits else ...)
              for key, kind in types.items()}
    return create_model(f"models.{model}", __config__=STRICT, **fields)


def model_recipe(params: dict, model: str, hyperparameter_types: dict[str, type] | None = None) -> Recipe:
    """The `train` section with `models.<model>`'s overrides applied, and the model's hyperparameters.

    A model block holds the model's constructor hyperparameters (hyperparameter_types: name -> type,
    every one required; read from models/<model>.py when None) and, optionally, any train key to
    override for this model alone. A bad shared value is an error even where a model overrides it.
    """
    models = section(params, "models")
    if model not in models:
        raise PipelineError(f"{PARAMS_FILE}: models.{model}: unknown model (defined: {', '.join(models) or 'none'})")
    block = models[model] if models[model] is not None else {}
    if not isinstance(block, dict):
        raise PipelineError(f"{PARAMS_FILE}: models.{model}: expected a mapping")
    types = catalog.hyperparameter_types(model) if hyperparameter_types is None else hyperparameter_types
    train_keys = list(TrainParams.__pydantic_fields__)
    shared = section(params, "train")
    for key in block:
        if key not in types and key not in train_keys:
            allowed = ", ".join([*types, *train_keys])
            raise PipelineError(f"{PARAMS_FILE}: models.{model}.{key}: unknown key (allowed: {allowed})")
    overrides = {key: value for key, value in block.items() if key in train_keys}
    hyperparameters = {key: value for key, value in block.items() if key in types}
    if overrides.keys() & shared.keys():  # the shared values a model overrides are checked on their own
        validate(TrainParams, shared, lambda key: f"train.{key}")
    train = validate(TrainParams, {**shared, **overrides},
                     lambda key: f"models.{model}.{key}" if key in overrides else f"train.{key}")
    if not types:  # a constructor without hyperparameters: nothing to build a schema for
        return Recipe(train, {})
    checked = validate(hyperparameters_schema(model, types), hyperparameters, lambda key: f"models.{model}.{key}")
    return Recipe(train, {key: getattr(checked, key) for key in hyperparameters})
