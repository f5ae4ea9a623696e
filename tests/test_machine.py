"""The machine that made the results: recorded by training, named by the report, compared by check."""

import json
import os

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
    machines = {"model_1": record(17), "model_2": record(17)}
    assert machines_line(machines) == ("Every model trained on AMD EPYC (AuthenticAMD, family 25, model 17), "
                                       "torch 2.14.1 with its AVX512 kernels, 2 threads.\n")
    assert machines_line({"model_1 1": record(17)}, what="fold").startswith("Every fold trained on AMD EPYC")
    line = machines_line({**machines, "model_3": record(1, threads=1), "model_4": None})
    assert line.startswith("Trained on `model_1`, `model_2`: AMD EPYC (AuthenticAMD, family 25, model 17)")
    assert "`model_3`: AMD EPYC (AuthenticAMD, family 25, model 1), torch 2.14.1 with its AVX512 kernels, 1 thread;" in line
    assert "`model_4`: a machine not recorded" in line


def test_check_warns_once_where_the_results_came_from_another_cpu_torch_or_thread_count(tmp_path, monkeypatch):
    from stages import check
    from stages.check import other_machine

    monkeypatch.chdir(tmp_path)
    cpus = machine.usable_cpus()
    here = {**machine.cpu(), "torch": check.installed_torch() + "+cu130", "cpus": cpus, "threads": cpus}
    written = {"model_1": here, "model_2": {**here, "model": -1}, "model_3": {**here, "model": -1},
               "model_5": {**here, "torch": "1.0.0"}, "model_6": {**here, "cpus": cpus + 2, "threads": cpus + 2}}
    for name, record in written.items():
        (tmp_path / "metrics" / name).mkdir(parents=True)
        (tmp_path / "metrics" / name / "train.json").write_text(json.dumps({"machine": record}))
    (tmp_path / "metrics/model_4").mkdir()
    (tmp_path / "metrics/model_4/train.json").write_text("{not json")
    lines = other_machine(dict.fromkeys(["model_1", "model_2", "model_3", "model_4", "model_5", "model_6", "model_7"], 0))
    assert len(lines) == 3, lines
    assert lines[0].startswith("model_2, model_3: trained on ") and "model -1" in lines[0] and "'Your first run'" in lines[0]
    assert "model_5: trained on " in lines[1] and f"with torch 1.0.0, not {check.installed_torch()}" in lines[1]
    assert "model_6: trained on " in lines[2] and f"with {cpus + 2} CPUs, not {cpus}" in lines[2]
    assert other_machine({"model_1": 0}) == [] and other_machine({"model_1": cpus}) == []
    assert other_machine({"model_6": cpus + 2}) != []  # more threads than this machine has: it trains on fewer
    if cpus > 1:
        assert f"on {cpus} threads, not 1" in other_machine({"model_1": 1})[0]
