"""The Python versions pyproject.toml claims are ones every pin installs on."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from importlib.metadata import PackageNotFoundError, metadata, version

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.project import ROOT


def _pins() -> dict[str, str]:
    pins = {}
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            found = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s#;]+)", line.strip())
            if found:
                pins[found.group(1)] = found.group(2)
    return pins


def test_every_pin_installs_on_the_oldest_python_the_project_claims():
    claimed = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    oldest = min((Version(f"3.{minor}") for minor in range(0, 30) if Version(f"3.{minor}") in claimed))
    pins = _pins()
    assert "torch" in pins and "numpy" in pins
    for package, pinned in pins.items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            continue  # not installed here (an optional extra): nothing to read its metadata from
        assert Version(installed).base_version == Version(pinned).base_version, f"{package}: {installed}, pinned {pinned}"
        needs = metadata(package).get("Requires-Python")
        if needs:
            assert oldest in SpecifierSet(needs), (
                f"{package}=={pinned} needs Python {needs}, but pyproject.toml claims {claimed}: raise requires-python"
            )


def test_no_file_of_the_pipeline_or_predict_imports_what_only_requirements_dev_installs():
    """requirements.txt holds what the product imports; requirements-dev.txt says torchvision (the
    tests' reference and the benchmark's original pipeline) is imported by none of its files."""
    import ast

    product = [path for folder in ("mnist_pipeline", "stages", "models") for path in (ROOT / folder).rglob("*.py")]
    imported = set()
    for path in product:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    runtime = set(re.findall(r"^([A-Za-z0-9_.\-]+)==", (ROOT / "requirements.txt").read_text(), re.M))
    dev_only = {name.lower() for name in set(_pins()) - runtime}
    assert "torchvision" in dev_only and "torch" in imported and len(product) > 30
    assert imported & dev_only == set()


def test_pip_builds_the_project_before_it_fetches_any_pin():
    """pip checks Requires-Python only once it has every pinned package: on 3.10 it downloaded torch's
    555 MB, then named numpy. The project it builds first, and its build refuses an older Python."""
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "-e ." in lines  # built before any pin is fetched, wherever it stands
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert build["build-backend"] == "build_backend" and build["backend-path"] == ["."]


def test_the_build_refuses_a_python_older_than_requires_python_in_one_line_naming_both():
    import build_backend

    pyproject = (ROOT / "pyproject.toml").read_text()
    claimed = SpecifierSet(tomllib.loads(pyproject)["project"]["requires-python"])
    oldest = min(Version(f"3.{minor}") for minor in range(0, 30) if Version(f"3.{minor}") in claimed)
    older = (3, oldest.minor - 1, 13)
    assert build_backend.refusal(older, pyproject) == (
        f"error: mnist-dvc-pipeline needs Python 3.{oldest.minor} or newer (pyproject.toml's requires-python), "
        f"and this is Python 3.{oldest.minor - 1}.13; nothing was installed")
    assert build_backend.refusal((3, oldest.minor, 0), pyproject) is None
    assert build_backend.refusal(sys.version_info, pyproject) is None


def _older_python() -> str | None:
    """An interpreter older than requires-python: pyenv's 3.10, or python3.10 on PATH."""
    found = sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python")) + [Path(p) for p in [shutil.which("python3.10")] if p]
    return str(found[0]) if found else None


@pytest.mark.slow
@pytest.mark.skipif(_older_python() is None, reason="no Python 3.10 here")
def test_pip_on_python_3_10_names_the_python_version_before_fetching_anything(tmp_path):
    """Offline (--no-index): what pip would do first, with the venv's own setuptools for the build."""
    subprocess.run([_older_python(), "-m", "venv", str(tmp_path / "venv")], check=True, timeout=120)
    result = subprocess.run([str(tmp_path / "venv/bin/python"), "-m", "pip", "install", "--dry-run", "--no-index",
                             "--no-build-isolation", "-r", "requirements.txt"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PIP_FIND_LINKS": ""})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "error: mnist-dvc-pipeline needs Python 3.11 or newer (pyproject.toml's requires-python), and this is " \
           "Python 3.10." in output, output
    assert "Collecting" not in output and "torch" not in output, output
