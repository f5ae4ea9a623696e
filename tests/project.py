"""A temporary copy of the project, pointed at a synthetic mirror and sized to run in seconds."""

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.synthetic import sha256_of, write_mirror

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("dvc.yaml", "params.yaml", "stages", "models", "mnist_pipeline", "crossval/dvc.yaml",
                 "crossval/summary.json", "crossval/plots")


def copy_project(dest: Path, raw_files: dict[str, bytes], mirror_dir: Path, models: tuple[str, ...] = (),
                 source_root: Path = ROOT) -> Path:
    """The copy (of source_root, this project unless given), with params.yaml's `models` cut down to
    `models` where given."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = source_root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    mirror = write_mirror(mirror_dir, raw_files)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["download"]["sources"] = [mirror.as_uri()]
    params["download"]["sha256"] = sha256_of(raw_files)
    params["preprocess"]["val_size"] = 100
    params["train"]["epochs"] = 2
    if models:
        params["models"] = {name: params["models"][name] for name in models}
        _keep_models(dest, models)
    for block in params["models"].values():  # a model's own epochs (model_3's) too
        if block and "epochs" in block:
            block["epochs"] = 2
        if block and "batch_size" in block:  # enough batches of the tiny data for onecycle's warmup
            block["batch_size"] = 32
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def clone_project(dest: Path, env: dict[str, str]) -> Path:
    """What a fresh clone of this working tree holds (the files git tracks, or would: no DVC cache,
    checkpoints or data), as a git repository of its own with one commit."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # a tracked file deleted in the working tree is listed too
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "clone"]):
        run(command, dest, env)
    return dest


def add_dvc_settings(root: Path) -> None:
    """After `dvc init` (which refuses an existing .dvc/): the project's plot templates and page, and
    its DVC config that names the page."""
    shutil.copytree(ROOT / ".dvc" / "plots", root / ".dvc" / "plots", dirs_exist_ok=True)
    shutil.copy2(ROOT / ".dvc" / "config", root / ".dvc" / "config")


def init_repo(root: Path, env: dict[str, str]) -> None:
    """The copy as a git repository with DVC and the project's DVC settings, its files committed."""
    run(["git", "init", "-q", "-b", "main"], root, env)
    run(["dvc", "init", "-q"], root, env)
    add_dvc_settings(root)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "project"], root, env)


def _keep_models(root: Path, models: tuple[str, ...]) -> None:
    """dvc.yaml's per-model artifacts and plot lines, and crossval/dvc.yaml's fold charts, for `models`
    only, as `python -m mnist_pipeline.sync` writes them (the stages follow params.yaml)."""
    from mnist_pipeline.sync import crossval_text, pipeline_text

    for path, follow in ((root / "dvc.yaml", pipeline_text), (root / "crossval/dvc.yaml", crossval_text)):
        path.write_text(follow(path.read_text(), list(models)))


def environment(home: Path) -> dict[str, str]:
    """Environment for git and DVC in a temporary repo: own identity, no analytics, no mirror."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_")) and k != "MNIST_MIRROR"}
    env.update(
        HOME=str(home),
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def project_params() -> dict:
    from mnist_pipeline.core.params import load_params

    return load_params(ROOT / "params.yaml")


def train_params(**overrides):
    """The project's shared training recipe with overrides, for tests of the loop itself."""
    from mnist_pipeline.core.params import TrainParams

    return TrainParams(**{**project_params()["train"], "device": "cpu", "threads": 0, **overrides})


def build(name: str, **hyperparameters):
    """A fresh model as params.yaml configures it, with any hyperparameters given here instead."""
    from mnist_pipeline.core.catalog import hyperparameter_types
    from mnist_pipeline.core.params import model_recipe
    from mnist_pipeline.training.architectures import build_model

    configured = model_recipe(project_params(), name, hyperparameter_types(name)).hyperparameters
    return build_model(name, **{**configured, **hyperparameters})


def kill_once_saved(command: list[str], cwd: Path, env: dict[str, str], state: Path) -> None:
    """Start a training command and SIGKILL it as soon as it has saved a resume state."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "training finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()


IMPORTS = """
import importlib, json, os, sys
root = os.getcwd()
importlib.import_module(sys.argv[1])
if sys.argv[2]:
    from mnist_pipeline.training.architectures import model_class
    model_class(sys.argv[2])
paths = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
files = {os.path.relpath(p, root) for p in paths
         if os.path.isabs(p) and p.startswith(root + os.sep)  # project files, not a venv inside it
         and not {"site-packages", "dist-packages"} & set(p.split(os.sep))}
print(json.dumps({"files": sorted(files), "modules": sorted(sys.modules)}))
"""


@functools.cache
def stage_imports() -> dict[tuple[str, str], dict[str, set[str]]]:
    """(module, model) -> {"files": the project files, "modules": every module} that a fresh
    interpreter imports to run each stage of dvc.yaml and crossval/dvc.yaml (for matrix stages, with
    the first model's file). All start at once: each is a second or two of importing torch."""
    model = next(iter(project_params()["models"]))
    wanted = set()
    for pipeline in ("dvc.yaml", "crossval/dvc.yaml"):
        for stage in yaml.safe_load((ROOT / pipeline).read_text())["stages"].values():
            wanted.add((stage["cmd"].split()[2], model if "matrix" in stage else ""))
    wanted = sorted(wanted)
    probes = [subprocess.Popen([sys.executable, "-c", IMPORTS, *key], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for key in wanted]
    found = {}
    for key, probe in zip(wanted, probes):
        out, err = probe.communicate(timeout=120)
        assert probe.returncode == 0, f"importing {key[0]} failed:\n{err}"
        found[key] = {name: set(values) for name, values in json.loads(out).items()}
    return found
