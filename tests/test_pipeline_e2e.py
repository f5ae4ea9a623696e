"""The real `dvc repro` and `dvc exp run` on a temporary git repo and a synthetic mirror."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from tests.project import copy_project, environment, init_repo, run

# Two models: the stages of every model come from one matrix template (test_dvc_yaml checks each
# model's deps; test_crossval's stage test runs the other two), and each more model costs this
# module a Ray instance and eight processes.
MODELS = ("model_1", "model_2")
MODEL_STAGES = {f"{stage}@{model}" for stage in ("train", "evaluate") for model in MODELS}
ALL_STAGES = {"check", "download", "preprocess", *MODEL_STAGES, "report"}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is not installed")]


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _queue_view(command: list[str], root, env) -> str | None:
    """The output of a DVC command that reads the queue workers' files, or None while they are mid-write.

    DVC 3.67 copies a worker's temporary workspace ("directory .../.dvc does not exist" until
    done), makes its run folder before the info file in it (".../run/<rev>/<rev>.run": No such file
    or directory), and rewrites that file in place ("JSON file structure is corrupted"). `exp show`
    and `queue status` read them all: asking again is the fix, for a user as for a test. Any other
    failure fails the test.
    """
    result = run(command, root, env, check=False)
    if result.returncode and ".dvc/tmp/exps/" in result.stderr:
        return None
    assert result.returncode == 0, result.stderr
    return result.stdout


def _start_queue(root, env, *options: str) -> None:
    """`dvc queue start`, without waiting on its output: the workers it starts keep that open until
    they exit, and a DVC 3.67 worker sometimes never does (its monitor asks it to stop while its
    last task still runs; the task ends, the worker stays). _stop_workers ends them."""
    subprocess.Popen(["dvc", "queue", "start", *options], cwd=root, env=env, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL).wait(timeout=120)


def _stop_workers(root) -> None:
    for pid_file in (root / ".dvc" / "tmp" / "exps" / "celery").glob("dvc-exp-worker-*.pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            pass


def _metrics(root, model):
    folder = root / "metrics" / model
    return {name: (folder / name).read_text() for name in ("train.json", "eval.json", "live/metrics.json")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, raw_files):
    base = tmp_path_factory.mktemp("e2e")
    root = copy_project(base / "project", raw_files, base / "mirror", MODELS)
    env = environment(base)
    init_repo(root, env)
    return root, env


def test_repro_runs_everything_then_nothing_and_is_deterministic(repo):
    root, env = repo
    first = run(["dvc", "repro"], root, env)
    assert _ran(first.stdout) == ALL_STAGES
    lock = (root / "dvc.lock").read_text()
    assert _ran(run(["dvc", "repro"], root, env).stdout) == set()

    # Rerun by force, the split and a model (model_2: augmentation, OneCycle) give the same bytes.
    timing = (root / "metrics/timing/model_2.json").read_text()
    forced_stages = ["preprocess", "train@model_2", "evaluate@model_2"]
    forced = run(["dvc", "repro", "-f", "--single-item", *forced_stages], root, env)
    assert _ran(forced.stdout) == set(forced_stages)
    assert (root / "dvc.lock").read_text() == lock, "dvc repro -f changed dvc.lock"
    assert (root / "metrics/timing/model_2.json").read_text() != timing  # wall time lives outside it

    shown = json.loads(run(["dvc", "metrics", "show", "--json"], root, env).stdout)
    data = next(iter(shown.values()))["data"]
    # One file of scores per model and nothing else: no timing, digest, comparison or latest epoch.
    assert sorted(data) == sorted(f"metrics/scores/{m}.json" for m in MODELS)
    for model in MODELS:
        assert sorted(data[f"metrics/scores/{model}.json"]["data"]) == ["best_val_accuracy", "test_accuracy", "test_ece", "test_loss"]
        live = json.loads((root / f"metrics/{model}/live/metrics.json").read_text())
        assert sorted(live) == ["step", "train_loss", "val_accuracy", "val_loss"]  # written, no metric
        assert (root / f"metrics/{model}/live/plots/metrics/lr.tsv").exists()  # plotted
    # The report's row for each model carries the numbers `dvc metrics show` gives.
    report = (root / "metrics/report.md").read_text()
    for model in MODELS:
        row = next(line for line in report.splitlines() if line.startswith(f"| `{model}` |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        accuracy = data[f"metrics/scores/{model}.json"]["data"]["test_accuracy"]
        parameters = json.loads((root / f"metrics/{model}/train.json").read_text())["parameters"]
        assert f"{accuracy:.2%}" in cells and f"{parameters:,}" in cells
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "baseline"], root, env)


def test_a_bad_value_stops_before_any_output_is_deleted(repo):
    root, env = repo
    kept = ["checkpoints/model_1/best.pt", "checkpoints/model_2/last.pt", "metrics/model_1/train.json",
            "data/raw/train-images-idx3-ubyte", "data/prepared/train.pt", "data/prepared/val.pt", "data/prepared/test.pt"]
    before = {path: (root / path).read_bytes() for path in kept}
    for override, message in (
        ("train.lr=-1", "params.yaml: train.lr: invalid value -1 (allowed: > 0)"),
        ("+models.model_9.lr=0.1", "params.yaml: models.model_9: no file models/model_9.py"),
        # Refusals a stage would make from the data's size, another key or the machine: check makes them first.
        ("preprocess.val_size=600", "params.yaml: preprocess.val_size: invalid value 600 (allowed: 1..599"),
    ):  # the other kinds of refusal (a model's LIMITS, the machine) go through check in test_limits.py
        result = run(["dvc", "exp", "run", "-S", override], root, env, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and message in output and "git checkout HEAD -- params.yaml" in output, output
        assert _ran(output) == {"check"}
        assert {path: (root / path).read_bytes() for path in kept} == before
        run(["git", "checkout", "HEAD", "--", "params.yaml"], root, env)

    (root / "params.yaml").rename(root / "params.yaml.away")  # DVC used to delete data/raw before failing
    result = run(["dvc", "repro"], root, env, check=False)
    (root / "params.yaml.away").rename(root / "params.yaml")
    assert result.returncode != 0 and {path: (root / path).read_bytes() for path in kept} == before
    assert _ran(run(["dvc", "repro"], root, env).stdout) <= {"check"}


def test_plots_render_every_declared_plot(repo, tmp_path):
    root, env = repo
    shown = run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], root, env)
    assert "failed to load" not in shown.stdout + shown.stderr  # a model not cross-validated warns of nothing
    html = (tmp_path / "plots/index.html").read_text()
    for plot in ("validation_accuracy", "loss", "learning_rate"):
        assert plot in html, plot
    for model in MODELS:  # DVC turns each plot's path into an element id
        assert f"metrics_{model}_predictions_csv" in html
        assert f"metrics_{model}_misclassified_png" in html
    assert len(list((tmp_path / "plots").rglob("*misclassified.png"))) == len(MODELS)


def test_push_then_pull_into_a_fresh_clone_is_up_to_date(repo, tmp_path):
    root, env = repo
    storage = tmp_path / "storage"
    run(["dvc", "remote", "add", "-d", "store", str(storage)], root, env)
    run(["git", "commit", "-q", "-am", "remote"], root, env)
    run(["dvc", "push"], root, env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    run(["dvc", "pull"], clone, env)
    for path in ("checkpoints/model_1/best.pt", "checkpoints/model_2/last.pt", "data/prepared/test.pt"):
        assert (clone / path).read_bytes() == (root / path).read_bytes(), path
    result = run(["dvc", "repro"], clone, env)
    assert _ran(result.stdout) == set() and "Data and pipelines are up to date." in result.stdout


def test_experiment_reruns_only_the_changed_model(repo):
    root, env = repo
    before = {model: _metrics(root, model) for model in MODELS}
    old_lr = yaml.safe_load((root / "params.yaml").read_text())["models"]["model_2"]["lr"]
    # `++` sets a key whether or not the model's block has it yet.
    result = run(["dvc", "exp", "run", "-S", "++models.model_2.lr=0.002"], root, env)
    assert _ran(result.stdout) == {"check", "train@model_2", "evaluate@model_2", "report"}  # check is cheap, reruns nothing
    assert _metrics(root, "model_1") == before["model_1"]
    after = _metrics(root, "model_2")
    assert after["live/metrics.json"] != before["model_2"]["live/metrics.json"]
    assert after["train.json"] != before["model_2"]["train.json"] or after["eval.json"] != before["model_2"]["eval.json"]

    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], root, env).stdout)
    changed = {path for path, values in diff.items() if any(v.get("diff") for v in values.values())}
    assert "metrics/scores/model_2.json" in changed
    assert all("model_2" in path for path in changed)

    params_diff = json.loads(run(["dvc", "params", "diff", "--json"], root, env).stdout)
    assert list(params_diff["params.yaml"]) == ["models.model_2.lr"]
    assert params_diff["params.yaml"]["models.model_2.lr"]["old"] == old_lr
    assert params_diff["params.yaml"]["models.model_2.lr"]["new"] == 0.002

    shown = json.loads(run(["dvc", "exp", "show", "--json"], root, env).stdout)
    experiments = [rev["data"] for row in shown for exp in row.get("experiments") or [] for rev in exp["revs"]]
    assert len(experiments) == 1
    params = experiments[0]["params"]["params.yaml"]["data"]
    assert params["models"]["model_2"]["lr"] == 0.002 and "lr" not in params["models"]["model_1"]
    scored = experiments[0]["metrics"]["metrics/scores/model_2.json"]["data"]
    assert scored["test_accuracy"] == json.loads((root / "metrics/model_2/eval.json").read_text())["test_accuracy"]


def test_parallel_queued_experiments_do_not_interfere(repo):
    root, env = repo
    run(["git", "checkout", "--", "."], root, env)
    run(["dvc", "checkout", "--force"], root, env)
    for name, lr in (("lr-high", 0.01), ("lr-low", 0.0003)):
        # One CPU thread each, as the README advises for two jobs on two cores.
        overrides = ["-S", f"models.model_2.lr={lr}", "-S", "++models.model_2.threads=1"]
        run(["dvc", "exp", "run", "--queue", "-n", name, *overrides], root, env)
    _start_queue(root, env, "-j", "2")
    status, deadline = "", time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            listed = _queue_view(["dvc", "queue", "status"], root, env)
            if listed is None:
                time.sleep(0.5)
                continue
            status = listed
            if not re.search(r"\b(Queued|Running)\b", status):
                break
            time.sleep(2)
    finally:
        _stop_workers(root)
    assert "Failed" not in status and status.count("Success") >= 2, status

    shown = json.loads(run(["dvc", "exp", "show", "--json"], root, env).stdout)
    by_name = {rev["name"]: rev["data"] for row in shown for exp in row.get("experiments") or [] for rev in exp["revs"]}
    results = {}
    for name, lr in (("lr-high", 0.01), ("lr-low", 0.0003)):
        data = by_name[name]
        assert data["params"]["params.yaml"]["data"]["models"]["model_2"]["lr"] == lr
        assert data["params"]["params.yaml"]["data"]["models"]["model_2"]["threads"] == 1
        results[name] = data["metrics"]["metrics/scores/model_2.json"]["data"]
    assert results["lr-high"] != results["lr-low"]

    # Each queued result is what a run on its own gives: apply it, rerun model_2, compare.
    run(["dvc", "exp", "apply", "lr-low"], root, env)
    applied = (root / "metrics/model_2/eval.json").read_text()
    assert {key: json.loads(applied)[key] for key in ("test_accuracy", "test_loss")} == {
        key: results["lr-low"][key] for key in ("test_accuracy", "test_loss")}
    ran = set()
    for stage in ("train@model_2", "evaluate@model_2"):
        ran |= _ran(run(["dvc", "repro", "--force", "--single-item", stage], root, env).stdout)
    assert ran == {"train@model_2", "evaluate@model_2"}
    assert (root / "metrics/model_2/eval.json").read_text() == applied


def test_a_running_experiment_shows_its_epochs_in_its_log_and_its_baselines_scores(repo):
    """docs/experiments.md, "See training": `dvc queue logs` has each epoch as it ends; `dvc exp show`
    lists the running experiment with its baseline's scores, the latest epoch being no DVC metric."""
    root, env = repo
    run(["git", "checkout", "--", "."], root, env)
    baseline = json.loads((root / "metrics/scores/model_1.json").read_text())
    epochs = 1000  # more than it runs: the experiment is stopped once its first epoch is seen
    overrides = ["-S", f"++models.model_1.epochs={epochs}", "-S", "++models.model_1.threads=1"]
    run(["dvc", "exp", "run", "--queue", "-n", "live", *overrides], root, env)
    _start_queue(root, env)
    logged, row, deadline = "", None, time.monotonic() + 300
    try:
        while f"Epoch: 1/{epochs}" not in logged and time.monotonic() < deadline:
            logged = run(["dvc", "queue", "logs", "live"], root, env, check=False).stdout
            time.sleep(0.5)
        while row is None and time.monotonic() < deadline:
            shown = _queue_view(["dvc", "exp", "show", "--json"], root, env)
            for entry in json.loads(shown) if shown else []:
                for exp in entry.get("experiments") or []:
                    if exp["name"] == "live" and (exp.get("executor") or {}).get("state") == "running":
                        row = exp["revs"][0]["data"].get("metrics") or {}
            time.sleep(0.5)
    finally:
        run(["dvc", "queue", "kill", "live"], root, env, check=False)
        _stop_workers(root)
    assert f"Epoch: 1/{epochs}" in logged and "Validation Accuracy:" in logged, logged
    assert row is not None, "the experiment was not listed as running"
    assert "metrics/model_1/live/metrics.json" not in row
    assert row["metrics/scores/model_1.json"]["data"] == baseline


def _report_cells(root, model):
    row = next(line for line in (root / "metrics/report.md").read_text().splitlines() if line.startswith(f"| `{model}` |"))
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_crossval_runs_on_request_and_the_report_shows_only_current_results(repo):
    root, env = repo
    run(["git", "checkout", "--", "."], root, env)
    run(["dvc", "checkout", "--force"], root, env)
    assert _ran(run(["dvc", "repro"], root, env).stdout) == set()  # the default pipeline never cross-validates
    assert all(_report_cells(root, model)[-1] == "not run" for model in MODELS)

    result = run(["dvc", "exp", "run", "crossval/dvc.yaml", "-S", "crossval.folds=[1,2]"], root, env)
    folds = {f"crossval/dvc.yaml:folds@{model}" for model in MODELS}
    assert _ran(result.stdout) == {"check", *folds, "crossval/dvc.yaml:report"}
    summary = json.loads((root / "crossval/summary.json").read_text())
    assert summary["folds"] == 2 and "model_2 - model_1" in summary["comparisons"]
    assert _ran(run(["dvc", "repro", "crossval/dvc.yaml"], root, env).stdout) == set()

    # The main report picks the results up (only it reruns), and drops a model's once its recipe changes.
    assert _ran(run(["dvc", "repro"], root, env).stdout) == {"report"}
    for model in MODELS:
        accuracy = summary[model]["val_accuracy"]
        assert _report_cells(root, model)[-1] == f"{accuracy['mean'] * 100:.2f} ± {accuracy['std'] * 100:.2f}%"
        assert json.loads((root / f"metrics/scores/{model}.json").read_text())["cv_accuracy"] == accuracy["mean"]
    # The report declares each model's recipe: a changed one reruns it alone, before any retraining.
    run(["dvc", "exp", "run", "-S", "models.model_2.lr=0.005", "--single-item", "report"], root, env)
    assert _report_cells(root, "model_2")[-1] == "not run"
    assert "cv_accuracy" not in json.loads((root / "metrics/scores/model_2.json").read_text())  # "-" in exp show
    assert _report_cells(root, "model_1")[-1] != "not run"
    run(["git", "checkout", "--", "."], root, env)


def test_experiments_travel_between_clones_through_git_and_dvc_remotes(repo, tmp_path):
    """Machine A runs an experiment and pushes it; machine B pulls it, sees it in `dvc exp show`,
    applies it and reproduces nothing: the run-cache came with it (docs/experiments.md, "Sharing")."""
    root, env = repo
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "before sharing", "--allow-empty"], root, env)
    shared_git, shared_dvc = tmp_path / "shared.git", tmp_path / "shared-dvc"
    run(["git", "init", "-q", "--bare", str(shared_git)], tmp_path, env)
    run(["git", "remote", "add", "origin", str(shared_git)], root, env)
    run(["dvc", "remote", "add", "-f", "-d", "shared", str(shared_dvc)], root, env)
    run(["git", "commit", "-q", "-am", "shared DVC remote"], root, env)
    run(["dvc", "push"], root, env)
    run(["git", "push", "-q", "origin", "main"], root, env)

    run(["dvc", "exp", "run", "-n", "from-a", "-S", "models.model_2.lr=0.03"], root, env)
    run(["dvc", "exp", "push", "origin", "from-a"], root, env)  # its git ref, and its outputs to the DVC remote
    run(["dvc", "push", "--run-cache"], root, env)
    run(["git", "checkout", "--", "."], root, env)

    clone = tmp_path / "machine-b"
    run(["git", "clone", "-q", "-b", "main", str(shared_git), str(clone)], tmp_path, env)
    run(["dvc", "exp", "pull", "origin", "from-a"], clone, env)
    shown = json.loads(run(["dvc", "exp", "show", "--json"], clone, env).stdout)
    names = {rev.get("name") for row in shown for exp in row.get("experiments") or [] for rev in exp["revs"]}
    assert "from-a" in names
    run(["dvc", "exp", "apply", "from-a"], clone, env)
    run(["dvc", "pull", "--run-cache"], clone, env)
    result = run(["dvc", "repro"], clone, env)
    assert _ran(result.stdout) == set() and "Data and pipelines are up to date." in result.stdout
    assert yaml.safe_load((clone / "params.yaml").read_text())["models"]["model_2"]["lr"] == 0.03
