"""Reading params.yaml's text into a mapping, as DVC reads it: YAML 1.2 floats (`1e-3`), no duplicate keys."""

import re
from pathlib import Path

import yaml

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.paths import PARAMS_FILE


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `1e-3` as a float, as YAML 1.2 (and DVC) do, and refuses a key given
    twice in one mapping (PyYAML keeps the last; DVC refuses the whole file in many lines)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise PipelineError(
                        f"{self.name}: line {line}: duplicate key {key!r} (first at line {seen[key]}); remove one"
                    )
                seen[key] = line
            except TypeError:
                pass  # an unhashable key: SafeLoader refuses it below
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_params(path: str | Path = PARAMS_FILE) -> dict:
    """Read params.yaml as a mapping; a missing, undecodable or malformed file is a PipelineError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read params file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_params(text, path)


def parse_params(text: str, path: str | Path = PARAMS_FILE) -> dict:
    """params.yaml's text as a mapping (path names it in errors: e.g. a revision's copy)."""
    loader = _Loader(text)
    loader.name = str(path)
    try:
        params = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PipelineError(f"{path}: not valid YAML ({where}{problem})") from None
    finally:
        loader.dispose()
    if not isinstance(params, dict):
        raise PipelineError(f"{path}: expected a mapping of sections at the top level")
    return params
