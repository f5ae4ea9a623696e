"""The machine that made the results: recorded by training, named by the report, compared by check."""

import json

from mnist_pipeline.core import machine
from mnist_pipeline.evaluation.report import machines_line

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9B14
flags\t\t: fpu avx512f

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9B14
"""


def test_the_cpu_is_read_from_proc_cpuinfo(tmp_path, monkeypatch):
    (tmp_path / "cpuinfo").write_text(EPYC)
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "cpuinfo")
    assert machine.cpu() == {"name": "AMD EPYC 9B14", "vendor": "AuthenticAMD", "family": 25, "model": 17}
    assert machine.describe_cpu(machine.cpu()) == "AMD EPYC 9B14 (AuthenticAMD, family 25, model 17)"
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "missing")
    assert machine.cpu()["family"] is None and machine.cpu()["name"]  # the platform module's name instead


def test_another_model_number_is_another_machine():
    a = {"name": "AMD EPYC", "vendor": "AuthenticAMD", "family": 25, "model": 17, "torch": "2.14.1"}
    assert machine.same_cpu(a, {**a, "torch": "2.13.0"})  # the CPU alone: torch is named beside it
    assert not machine.same_cpu(a, {**a, "model": 1})


def record(model: int, threads: int = 2) -> dict:
    return {"name": "AMD EPYC", "vendor": "AuthenticAMD", "family": 25, "model": model, "kernels": "AVX512",
            "torch": "2.14.1", "threads": threads}


def test_the_report_names_one_machine_once_and_groups_several():
    rows = [{"model": "model_1", "machine": record(17)}, {"model": "model_2", "machine": record(17)}]
    assert machines_line(rows) == ("Every model trained on AMD EPYC (AuthenticAMD, family 25, model 17), "
                                   "torch 2.14.1 with its AVX512 kernels, 2 threads.\n")
    rows += [{"model": "model_3", "machine": record(1, threads=1)}, {"model": "model_4", "machine": None}]
    line = machines_line(rows)
    assert line.startswith("Trained on `model_1`, `model_2`: AMD EPYC (AuthenticAMD, family 25, model 17)")
    assert "`model_3`: AMD EPYC (AuthenticAMD, family 25, model 1), torch 2.14.1 with its AVX512 kernels, 1 thread;" in line
    assert "`model_4`: a machine not recorded" in line


def test_check_warns_once_where_the_results_came_from_another_cpu(tmp_path, monkeypatch):
    from stages.check import other_machine

    monkeypatch.chdir(tmp_path)
    here = machine.cpu()
    for name, cpu in (("model_1", here), ("model_2", {**here, "model": -1}), ("model_3", {**here, "model": -1})):
        (tmp_path / "metrics" / name).mkdir(parents=True)
        (tmp_path / "metrics" / name / "train.json").write_text(json.dumps({"machine": cpu}))
    (tmp_path / "metrics/model_4").mkdir()
    (tmp_path / "metrics/model_4/train.json").write_text("{not json")
    (line,) = other_machine(["model_1", "model_2", "model_3", "model_4", "model_5"])
    assert line.startswith("model_2, model_3: trained on ") and "model -1" in line and "'Your first run'" in line
    assert other_machine(["model_1"]) == []
