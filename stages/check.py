"""Stage check: validate all of params.yaml before any other stage runs (and DVC deletes its outputs).

Every stage depends on this one through `download`, so a bad value stops `dvc repro` or
`dvc exp run` here, with one line, while every checkpoint and metric is still in place. Besides
the schema (core/params.py), it makes every refusal a stage could make from params alone
(core/limits.py), and warns of legal values that are almost surely a mistake or that this machine
cannot honour. Its output is the same bytes whatever the params, so a passing check reruns nothing
downstream. It imports no torch (nor numpy): it runs in a fraction of a second.
"""

import argparse
import importlib.metadata
import json
import math
import os
import sys

from mnist_pipeline.core import limits, paths
from mnist_pipeline.core.catalog import hyperparameter_limits, hyperparameter_types, model_files
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.machine import cpu, describe_cpu, same_cpu, usable_cpus
from mnist_pipeline.core.mnist import TRAIN_CLASS_COUNTS, TRAIN_LABELS, TRAIN_LABELS_SHA256
from mnist_pipeline.core.params import (
    SECTIONS,
    check_sections,
    crossval_params,
    download_params,
    evaluate_params,
    extra_sources,
    load_params,
    model_names,
    model_recipe,
    preprocess_params,
)
from mnist_pipeline.core.program import program
from mnist_pipeline.core.schema_errors import allowed
from mnist_pipeline.core.wording import plural
from mnist_pipeline.leftovers import find_leftovers
from mnist_pipeline.sync import COMMAND as SYNC
from mnist_pipeline.sync import out_of_date_sections
from mnist_pipeline.training.steps import steps_per_epoch, total_steps

# Works in every state DVC leaves behind, a killed `dvc exp run`'s staged params.yaml included.
RECOVERY = ("nothing was run or deleted; undo the change with `git checkout HEAD -- params.yaml` "
            "(or `dvc exp remove <name>`)")


class MissingKey(PipelineError):
    """A key the schema or a model's constructor declares and params.yaml lacks: the fix is to add it
    there (undoing params.yaml would not, where the declaration is new)."""


def require_every_key(params: dict) -> None:
    """Every key of each section's schema is in params.yaml (wherever in its section), so the file
    shows the whole recipe."""
    for name, schema in SECTIONS.items():
        values = params.get(name)
        for key, field in (schema.__pydantic_fields__.items() if schema and isinstance(values, dict) else ()):
            if key not in values:
                raise MissingKey(f"{paths.PARAMS_FILE}: {name}.{key}: required key is missing (mnist_pipeline/core/"
                                 f"params.py declares it: {field.description}, {allowed(field, key)}); add "
                                 f"`{key}: <value>` anywhere under `{name}:` in {paths.PARAMS_FILE}; nothing was run or deleted")


def require_hyperparameters(name: str, block: dict) -> None:
    hyperparameter_limits(name)  # a malformed file is named first: it is the file to fix
    for key, kind in hyperparameter_types(name).items():
        if key not in block:
            raise MissingKey(f"{paths.PARAMS_FILE}: models.{name}.{key}: required key is missing (models/{name}.py's "
                             f"Model takes it: {kind.__name__}); add `{key}: <value>` to the model's block in "
                             f"{paths.PARAMS_FILE}; nothing was run or deleted")


def class_counts(train_labels_sha256: str) -> list[int] | None:
    """Training images per class: counted in data/raw where it is, known for the canonical files,
    else None (a custom data set not yet downloaded: its stages check it)."""
    path = paths.RAW_DIR / TRAIN_LABELS
    if path.is_file():
        try:
            data = path.read_bytes()
        except OSError:
            return None  # an unreadable file is download's to replace
        labels = data[8:]  # IDX: magic 0x00000801, the count, one byte a label
        if data[:4] != b"\0\0\x08\x01" or int.from_bytes(data[4:8], "big") != len(labels) or not labels:
            return None  # a damaged file too
        return [labels.count(c) for c in range(max(labels) + 1)]
    return list(TRAIN_CLASS_COUNTS) if train_labels_sha256 == TRAIN_LABELS_SHA256 else None


def check(params: dict) -> list[str]:
    """Refuse the first bad value with a PipelineError; return the warnings."""
    check_sections(params)
    require_every_key(params)
    download, preprocess = download_params(params), preprocess_params(params)
    limits.require_device(evaluate_params(params).device, "evaluate")
    crossval = crossval_params(params)
    counts = class_counts(download.sha256[TRAIN_LABELS])
    sizes = {}  # training images by what trains on them, where the data is known
    if counts:
        limits.require_val_size(preprocess.val_size, sum(counts))
        limits.require_folds(crossval.k, min(c for c in counts if c))
        sizes = {"": sum(counts) - preprocess.val_size,
                 " (a cross-validation fold)": sum(counts) - sum(math.ceil(c / crossval.k) for c in counts)}
    warnings = []
    threads = {}  # each model's threads param, to tell whether its results were trained as they would be here
    for name in model_names(params):
        if name not in model_files():
            raise PipelineError(f"{paths.PARAMS_FILE}: models.{name}: no file models/{name}.py")
        block = params["models"][name] or {}
        if isinstance(block, dict):
            require_hyperparameters(name, block)
        train = model_recipe(params, name).train
        threads[name] = train.threads
        where = f"models.{name}" if "device" in block else "train"
        limits.require_device(train.device, where)
        for what, images in sizes.items():
            steps = steps_per_epoch(images, train.batch_size)
            if train.schedule == "onecycle":
                limits.require_warmup(train.warmup, train.epochs, steps, total_steps(train.epochs, steps),
                                      train.batch_size, f"models.{name}{what}")
        if sizes:
            total = total_steps(train.epochs, steps_per_epoch(sizes[""], train.batch_size))
            warnings += limits.recipe_warnings(train.batch_size, train.schedule, train.warmup, total, sizes[""],
                                               f"models.{name}")
        warnings += limits.threads_warning(train.threads, f"models.{name}" if "threads" in block else "train")
        warnings += limits.precision_warning(train.precision, f"models.{name}" if "precision" in block else "train")
    stale = out_of_date_sections(model_names(params))
    if stale:
        warnings.append(f"{', '.join(stale)}: the artifacts, training curves or fold charts do not follow "
                        f"{paths.PARAMS_FILE}'s models (DVC cannot iterate there); write them with `{SYNC}`")
    return list(dict.fromkeys(warnings)) + find_leftovers(model_names(params)) + other_machine(threads)


def other_machine(threads: dict[str, int]) -> list[str]:
    """One line where the checkout's results were trained elsewhere than they would be here: on another
    CPU model, another torch release or another thread count (threads: each model's `threads` param).
    Models retrained here will differ from them in the last bits, which `dvc metrics diff` then shows."""
    here = {**cpu(), "torch": installed_torch(), "cpus": usable_cpus()}
    others: dict[str, list[str]] = {}
    for name, wanted in threads.items():
        try:
            record = json.loads(paths.model_metrics(name, "train.json").read_bytes()[:65536]).get("machine")
        except (OSError, ValueError, AttributeError):
            continue  # not trained yet, or damaged: the train stage rewrites it
        if not isinstance(record, dict):
            continue
        differs = [f"not on this {describe_cpu(here)}"] if not same_cpu(record, here) else []
        if here["torch"] and str(record.get("torch", "")).split("+")[0] != here["torch"]:
            differs.append(f"with torch {record.get('torch')}, not {here['torch']}")
        if wanted and record.get("threads") not in (None, min(wanted, here["cpus"])):
            differs.append(f"on {plural(record['threads'], 'thread')}, not {min(wanted, here['cpus'])}")
        elif not wanted and record.get("cpus") not in (None, here["cpus"]):  # threads: 0, one per CPU torch sees
            differs.append(f"with {plural(record['cpus'], 'CPU')}, not {here['cpus']}")
        if differs:
            others.setdefault(f"trained on {describe_cpu(record)}, " + ", ".join(differs), []).append(name)
    return [f"{', '.join(models)}: {why}: retrained here, results differ in the last bits (README, 'Your first run')"
            for why, models in others.items()]


def installed_torch() -> str | None:
    """torch's release as installed (without its local +cu130 part), read without importing torch."""
    try:
        return importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog=program(), description=__doc__).parse_args(argv)
    extra_sources([], os.environ)  # $MNIST_MIRROR: download's to read, checked while data/raw is still there
    try:
        warnings = check(load_params())
    except MissingKey:
        raise
    except PipelineError as exc:
        raise PipelineError(f"{exc}; {RECOVERY}") from None
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    atomic_write_bytes(paths.PARAMS_CHECKED, b"params.yaml: valid\n")
    print(f"{paths.PARAMS_FILE}: valid")


if __name__ == "__main__":
    run_command(main)
