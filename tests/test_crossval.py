"""Cross-validation: stratified folds, honest intervals, current-only results, and stages that keep
the project's guarantees (exact deps, byte-identical reruns, resume, one-line errors)."""

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.paths import fold_plot
from mnist_pipeline.core.params import crossval_params, model_names
from mnist_pipeline.data.folds import assign_folds
from mnist_pipeline.evaluation.crossval import (
    current_result,
    interval,
    paired_difference,
    params_digest,
    repeated_difference,
    summarize,
    t_quantile,
)
from tests.project import (
    ROOT,
    copy_project,
    environment,
    project_params,
    run,
    stage_imports,
)
from tests.test_dvc_yaml import Recorder, _files, _params_read, _within

CROSSVAL_YAML = yaml.safe_load((ROOT / "crossval/dvc.yaml").read_text())
STAGES = CROSSVAL_YAML["stages"]
MODELS = model_names(project_params())


# --- folds and statistics ------------------------------------------------------------------------

def test_folds_are_stratified_cover_every_image_once_and_follow_the_seed():
    labels = torch.arange(1003) % 10
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(3))]
    folds = assign_folds(labels, k=5, seed=0)
    assert folds.dtype == torch.uint8 and set(folds.tolist()) == {1, 2, 3, 4, 5}
    for label in range(10):
        per_fold = torch.bincount(folds[labels == label].long(), minlength=6)[1:]
        assert per_fold.max() - per_fold.min() <= 1, label
    assert torch.equal(folds, assign_folds(labels, k=5, seed=0))
    assert not torch.equal(folds, assign_folds(labels, k=5, seed=1))


def test_more_folds_than_a_class_has_images_is_one_line():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    with pytest.raises(PipelineError, match=r"^params.yaml: crossval.folds: 4 folds, but a class has only 3 "
                                            r"training images \(allowed: 2..3 folds\)$"):
        assign_folds(labels, k=4, seed=0)


@pytest.mark.parametrize("folds", [[1], [1, 3], [0, 1], [1, 2, "3"], 5, [True, 2]])
def test_bad_folds_are_refused_naming_the_key(folds):
    with pytest.raises(PipelineError, match=r"^params.yaml: crossval.folds: "):
        crossval_params({"crossval": {"folds": folds, "seed": 0}})


def test_t_quantiles_match_published_tables():
    for df, expected in ((1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042)):
        assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3), df


def test_interval_of_the_mean_and_the_corrected_paired_difference():
    assert interval([1.0, 2.0, 3.0]) == pytest.approx(
        {"mean": 2.0, "std": 1.0, "ci95_low": 2 - 4.3027 / 3**0.5, "ci95_high": 2 + 4.3027 / 3**0.5}, abs=1e-4)
    a, b = [0.90, 0.91, 0.92, 0.93, 0.94], [0.91, 0.93, 0.92, 0.95, 0.95]
    difference = paired_difference(a, b)
    plain = interval([y - x for x, y in zip(a, b)])
    assert difference["mean"] == pytest.approx(0.012)
    # Wider than the plain interval by sqrt((1/k + 1/(k-1)) / (1/k)) for k = 5.
    ratio = (difference["ci95_high"] - difference["mean"]) / (plain["ci95_high"] - plain["mean"])
    assert ratio == pytest.approx((1 + 5 / 4) ** 0.5, rel=1e-3)


def test_a_models_interval_takes_the_same_correction_as_the_comparisons():
    """model_3's five folds as committed on 2026-12-06: the plain t-interval's half-width was
    0.079 pp, Nadeau and Bengio's 0.119 pp (both from scipy.stats.t, not from this module)."""
    accuracies = [0.993503, 0.995167, 0.9945, 0.994832, 0.994165]
    summary = summarize({"model_3": _folds(*accuracies)}, {"model_3": "digest"})
    accuracy = summary["model_3"]["val_accuracy"]
    assert accuracy["mean"] == pytest.approx(0.9944334, abs=1e-6)
    assert accuracy["ci95_low"] == pytest.approx(0.9932411, abs=2e-6)
    assert accuracy["ci95_high"] == pytest.approx(0.9956257, abs=2e-6)
    assert (accuracy["ci95_high"] - accuracy["ci95_low"]) / 2 == pytest.approx(0.0011923, abs=2e-6)
    assert interval(accuracies)["ci95_high"] - accuracy["mean"] == pytest.approx(0.0007949, abs=2e-6)  # uncorrected


def test_seeds_repeated_on_the_same_folds_are_averaged_per_fold_and_candidates_widen_the_interval():
    # Two seeds on the same five folds, one of four candidates: the per-fold means are 2, 2, 2, 5, 5
    # (mean 3.2, sd 1.643168), scipy.stats.t.interval(1 - 0.05 / 4, 4, 3.2, 1.643168 * sqrt(1/5 + 1/4)).
    difference = repeated_difference([[1, 2, 3, 4, 5], [3, 2, 1, 6, 5]], candidates=4)
    assert difference["mean"] == pytest.approx(3.2)
    assert difference["ci95_low"] == pytest.approx(-1.555918, abs=1e-5)
    assert difference["ci95_high"] == pytest.approx(7.955918, abs=1e-5)
    assert difference["confidence"] == 0.9875
    one_seed = repeated_difference([[1, 2, 3, 4, 5]])  # one seed, one candidate: the paired difference
    assert one_seed == paired_difference([0] * 5, [1, 2, 3, 4, 5])
    with pytest.raises(ValueError):
        repeated_difference([[1, 2, 3, 4, 5], [1, 2, 3, 4]])


def _folds(*accuracies):
    return [{"fold": i + 1, "val_accuracy": a, "val_loss": 1 - a} for i, a in enumerate(accuracies)]


def test_a_result_is_current_only_for_the_params_it_ran_with():
    params = project_params()
    results = {"model_1": _folds(0.98, 0.99, 0.985), "model_2": _folds(0.97, 0.975, 0.98)}
    summary = summarize(results, {name: params_digest(params, name) for name in results})
    assert current_result(summary, params, "model_1")["mean"] == pytest.approx(0.985)
    assert current_result(summary, params, "model_3") is None  # never cross-validated

    changed = yaml.safe_load(yaml.safe_dump(params))
    changed["models"]["model_2"]["lr"] = 0.005
    assert current_result(summary, changed, "model_2") is None
    assert current_result(summary, changed, "model_1") is not None  # its recipe did not change
    for section, key, value in (("train", "epochs", 3), ("crossval", "seed", 7)):
        changed = yaml.safe_load(yaml.safe_dump(params))
        changed[section][key] = value
        assert current_result(summary, changed, "model_1") is None, section
    changed = yaml.safe_load(yaml.safe_dump(params))
    changed["evaluate"]["device"] = "cpu"  # nothing cross-validation reads
    assert current_result(summary, changed, "model_1") is not None
    assert "model_2 - model_1" in summary["comparisons"]


# --- crossval/dvc.yaml declares what its stages do ----------------------------------------------

@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_exactly_the_imported_project_files(name):
    stage = STAGES[name]
    model = MODELS[0] if "matrix" in stage else ""
    declared = {d.replace("${item.model}", model) for d in stage["deps"] if d.endswith(".py")}
    assert declared == stage_imports()[stage["cmd"].split()[2], model]["files"], \
        f"crossval/dvc.yaml: {name}: run `python -m mnist_pipeline.sync`"


def test_stages_follow_params_yaml_and_the_report_writes_each_models_fold_chart():
    """The report's folder holds one file per model, each drawn by its own chart, titled with the
    model's name (tests/test_plots.py)."""
    assert STAGES["folds"]["matrix"] == {"model": "${models}"}
    assert all(stage["wdir"] == ".." for stage in STAGES.values())
    assert "plots" not in STAGES["report"] and {"crossval/plots": {"cache": False}} in STAGES["report"]["outs"]
    assert {p.parent.as_posix() for p in map(fold_plot, MODELS)} == {"crossval/plots"}
    main = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["report"]
    assert "crossval/summary.json" in main["deps"] and "metrics" not in CROSSVAL_YAML  # comparisons are no metric


def _declared(stage: dict, model: str) -> set[str]:
    paths = set()
    for key in ("outs", "metrics", "plots"):
        for entry in stage.get(key) or []:
            path = next(iter(entry)) if isinstance(entry, dict) else entry
            paths.add(path.replace("${item.model}", model))
    return paths


def _declared_params(stage: dict, model: str) -> list[str]:
    return sorted(p.replace("${item.model}", model) for p in stage["params"])


@pytest.mark.slow
def test_each_stage_reads_and_writes_exactly_what_crossval_dvc_yaml_declares(tmp_path, raw_files, monkeypatch):
    import importlib

    # One model, one the e2e tests leave out: each model's stage is the same template, and each costs a
    # Ray instance (model_4's stage runs in test_ray_folds.py, model_1's and model_2's in the e2e tests).
    models = ("model_3",)
    root = copy_project(tmp_path / "project", raw_files, tmp_path / "mirror", models)
    run([sys.executable, "-m", "stages.download"], root, environment(tmp_path))
    monkeypatch.chdir(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["crossval"]["folds"] = [1, 2]
    commands = [("folds", [m]) for m in models] + [("report", [])]
    for key, argv in commands:
        stage = STAGES[key]
        module = importlib.import_module(stage["cmd"].split()[2])
        log: set = set()
        monkeypatch.setattr(module, "load_params", lambda log=log: Recorder(params, log))
        before = _files(root)
        module.main(argv)
        written = {path for path, data in _files(root).items() if before.get(path) != data}
        model = (argv + [""])[0]
        declared = _declared(stage, model)
        unhashed = {"crossval/summary.json"} if key == "report" else set()
        assert {p for p in written - unhashed if not any(_within(p, d) for d in declared)} == set(), key
        assert {d for d in declared if not any(_within(p, d) for p in written)} == set(), key
        assert written >= unhashed, key
        assert _params_read(log) == _declared_params(stage, model), key


# --- comparing one model's cross-validation between revisions ------------------------------------

def _commit_results(root: Path, env: dict, accuracies: list[float], message: str, seed: int = 0,
                    lr: float = 0.003, current: bool = True) -> None:
    """A revision's fold results for model_2, its params.yaml (with lr) and its CV summary, whose
    digest matches those params when current."""
    folder = root / "crossval/results/model_2"
    folder.mkdir(parents=True, exist_ok=True)
    params = {"train": {"lr": 0.001}, "models": {"model_2": {"lr": lr}}, "crossval": {"folds": [1, 2, 3, 4, 5], "seed": seed}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    digest = params_digest({**params, "models": {"model_2": {"lr": lr if current else 0.5}}}, "model_2")
    summary = {"model_2": {"val_accuracy": {"mean": 0.98}, "params_digest": digest}}
    (root / "crossval/summary.json").write_text(json.dumps(summary))
    for fold, accuracy in enumerate(accuracies, 1):
        result = {"fold": fold, "folds": len(accuracies), "folds_seed": seed, "val_images": 100,
                  "val_accuracy": accuracy, "val_loss": 0.1}
        (folder / f"fold_{fold}.json").write_text(json.dumps(result))
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", message], root, env)


def test_compare_pairs_two_revisions_fold_by_fold(tmp_path, monkeypatch, capsys):
    from mnist_pipeline import compare

    env = environment(tmp_path)
    monkeypatch.setattr("os.environ", env)
    run(["git", "init", "-q", "-b", "main"], tmp_path, env)
    _commit_results(tmp_path, env, [0.980, 0.982, 0.981, 0.979, 0.983], "A")
    run(["git", "tag", "before"], tmp_path, env)
    _commit_results(tmp_path, env, [0.985, 0.986, 0.986, 0.984, 0.987], "B")
    # A DVC experiment is a ref under refs/exps, found by its name.
    run(["git", "update-ref", "refs/exps/ab/cdef/my-exp", "HEAD"], tmp_path, env)
    run(["git", "reset", "-q", "--hard", "before"], tmp_path, env)
    monkeypatch.chdir(tmp_path)

    compare.main(["model_2", "main", "my-exp"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("model_2, my-exp - main: +0.46 pp, 95% interval +0.") and last.endswith("my-exp better")
    compare.main(["model_2", "my-exp", "workspace"])
    assert capsys.readouterr().out.strip().endswith("my-exp better")

    _commit_results(tmp_path, env, [0.980, 0.982, 0.981, 0.979, 0.983], "other folds", seed=1)
    with pytest.raises(PipelineError, match="cross-validated model_2 on different folds"):
        compare.main(["model_2", "HEAD", "my-exp"])
    with pytest.raises(PipelineError, match="^no-such-revision: not a git commit"):
        compare.main(["model_2", "HEAD", "no-such-revision"])

    # An experiment that changed model_2's params but never cross-validated them: refused, not "+0.00".
    _commit_results(tmp_path, env, [0.980, 0.982, 0.981, 0.979, 0.983], "stale", seed=1, lr=0.005, current=False)
    run(["git", "update-ref", "refs/exps/ab/cdef/lr5", "HEAD"], tmp_path, env)
    with pytest.raises(PipelineError, match="^lr5: its cross-validation results for model_2 were not made with its "
                                            "params.yaml .*`dvc exp apply lr5`, then `dvc exp run crossval/dvc.yaml`"):
        compare.main(["model_2", "HEAD~1", "lr5"])
