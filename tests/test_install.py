"""The Python versions pyproject.toml claims are ones every pin installs on."""

import re
import tomllib
from importlib.metadata import PackageNotFoundError, metadata, version

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
