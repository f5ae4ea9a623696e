"""Stage check: validate all of params.yaml before any other stage runs (and DVC deletes its outputs).

Every stage depends on this one through `download`, so a bad value stops `dvc repro` or
`dvc exp run` here, with one line, while every checkpoint and metric is still in place. Its
output is the same bytes whatever the params, so a passing check reruns nothing downstream.
"""

import argparse

from mnist_pipeline.core import paths
from mnist_pipeline.core.catalog import hyperparameter_types, model_files
from mnist_pipeline.core.command import run_command
from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.files import atomic_write_bytes
from mnist_pipeline.core.params import (
    check_sections,
    crossval_params,
    download_params,
    evaluate_params,
    load_params,
    model_names,
    model_recipe,
    preprocess_params,
)

RECOVERY = "nothing was run or deleted; undo the change with `git checkout params.yaml` (or `dvc exp remove <name>`)"


def check(params: dict) -> None:
    check_sections(params)
    download_params(params)
    preprocess_params(params)
    evaluate_params(params)
    crossval_params(params)
    for name in model_names(params):
        if name not in model_files():
            raise PipelineError(f"{paths.PARAMS_FILE}: models.{name}: no file models/{name}.py")
        model_recipe(params, name, hyperparameter_types(name))


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    try:
        check(load_params())
    except PipelineError as exc:
        raise PipelineError(f"{exc}; {RECOVERY}") from None
    atomic_write_bytes(paths.PARAMS_CHECKED, b"params.yaml: valid\n")
    print(f"{paths.PARAMS_FILE}: valid")


if __name__ == "__main__":
    run_command(main)
