"""Which architectures exist in models/, the hyperparameters each takes and their limits, read
from their source.

Reading the source (not importing it) keeps params checking free of torch: the check stage runs
in a fraction of a second. `Model` is a class in models/<name>.py, or a name bound to one there;
`LIMITS`, if the file has it, maps a hyperparameter to the (low, high) its constructor accepts,
low <= value < high.
"""

import ast
import re

from mnist_pipeline.core import paths
from mnist_pipeline.core.errors import PipelineError

TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def model_files() -> list[str]:
    """Names of the architectures that have a file in models/."""
    return sorted(p.stem for p in paths.MODELS_DIR.glob("*.py") if not p.stem.startswith("_"))


def check_model_name(name: str) -> str:
    """name, if models/<name>.py exists; a name that is not a plain identifier never is."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name not in model_files():
        raise PipelineError(f"unknown model {name!r} (available: {', '.join(model_files())})")
    return name


def _source(name: str):
    """models/<name>.py's syntax tree; a file Python cannot read is one line naming it."""
    path = paths.MODELS_DIR / f"{check_model_name(name)}.py"
    try:
        return path, ast.parse(path.read_bytes(), str(path))
    except SyntaxError as exc:  # bad bytes for the file's encoding too
        raise PipelineError(f"{path}: not valid Python (line {exc.lineno}: {exc.msg})") from None
    except ValueError as exc:  # null bytes
        raise PipelineError(f"{path}: not valid Python ({exc})") from None
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read it ({exc.strerror})") from None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def hyperparameter_limits(name: str) -> dict[str, tuple]:
    """models/<name>.py's `LIMITS = {"dropout": (0.0, 1.0)}`: each listed hyperparameter's (low, high)."""
    path, tree = _source(name)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "LIMITS" for t in node.targets):
            try:
                limits = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                limits = None
            if not (isinstance(limits, dict) and all(
                    isinstance(v, tuple) and len(v) == 2 and all(map(_number, v)) for v in limits.values())):
                raise PipelineError(f"{path}: LIMITS must be a literal {{name: (low, high)}} of numbers, "
                                    "low <= value < high")
            return limits
    return {}


def hyperparameter_types(name: str) -> dict[str, type]:
    """The keyword arguments of `Model.__init__` in models/<name>.py and their annotated types."""
    path, tree = _source(name)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    aliases = {
        target.id: node.value.id
        for node in tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name)
        for target in node.targets if isinstance(target, ast.Name)
    }
    model = classes.get("Model") or classes.get(aliases.get("Model", ""))
    if model is None:
        raise PipelineError(f"{path}: defines no class `Model`")
    init = next((f for f in model.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    arguments = [*init.args.args[1:], *init.args.kwonlyargs] if init else []
    types = {}
    for argument in arguments:
        annotation = ast.unparse(argument.annotation) if argument.annotation else ""
        if annotation not in TYPES:
            raise PipelineError(
                f"{path}: hyperparameter {argument.arg!r} needs a type annotation ({', '.join(TYPES)})"
            )
        types[argument.arg] = TYPES[annotation]
    return types
