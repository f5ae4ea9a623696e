"""pydantic's validation errors as the project's one line: the key, the value as written, what is allowed.

What is allowed is derived from the field's declaration (its bounds, choices, examples), so each
bound is written once, in the schema (core/params.py).
"""

import typing

from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from mnist_pipeline.core.errors import PipelineError
from mnist_pipeline.core.paths import PARAMS_FILE

KINDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
         dict: "a mapping"}


class Invalid(ValueError):
    """Raised by a validator: the value is refused, `allowed` says what passes."""

    def __init__(self, allowed: str, key: str | None = None):
        super().__init__(allowed)
        self.allowed, self.key = allowed, key


class Problem(ValueError):
    """Raised by a validator: key (under the field) has a problem other than its range."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.message, self.key = message, key


def allowed(field: FieldInfo, name: str) -> str:
    """`> 0`, `0 <= momentum < 1`, `auto|cpu|cuda|mps`, and the field's examples: from its declaration."""
    if typing.get_origin(field.annotation) is typing.Literal:
        text = "|".join(typing.get_args(field.annotation))
    else:
        low = next((f"{_bound(c.gt)} <" if isinstance(c, Gt) else f"{_bound(c.ge)} <=" for c in field.metadata
                    if isinstance(c, (Gt, Ge))), "")
        high = next((f"< {_bound(c.lt)}" if isinstance(c, Lt) else f"<= {_bound(c.le)}" for c in field.metadata
                     if isinstance(c, (Lt, Le))), "")
        if low and high:
            text = f"{low} {name} {high}"
        elif low:
            text = f"{'>' if low.endswith(' <') else '>='} {low.split()[0]}"
        else:
            text = high or "any value of its type"
    if field.examples:
        text += f", e.g. {' or '.join(str(e) for e in field.examples)}"
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return text + (f", {extra['note']}" if "note" in extra else "")


def _bound(value) -> str:
    """2^63, not 9223372036854775808."""
    big = isinstance(value, int) and value >= 2**32 and value & (value - 1) == 0
    return f"2^{value.bit_length() - 1}" if big else str(value)


def _place(loc: tuple, where) -> str:
    """loc's key as the user knows it: where(first key), then `.key` or `[index]` for nested ones."""
    text = where(str(loc[0]))
    for part in loc[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def first_error(exc: ValidationError, fields: dict[str, FieldInfo], where) -> PipelineError:
    """The first of pydantic's errors as one line. fields: the schema's fields by name;
    where(key): the key's place in params.yaml, e.g. `train.lr` or `models.model_4.lr`."""
    error = exc.errors()[0]
    loc, kind, value = error["loc"], error["type"], error["input"]
    cause = (error.get("ctx") or {}).get("error")
    key = _place(loc, where) if loc else where("")
    if isinstance(cause, (Invalid, Problem)) and cause.key:
        key += f".{cause.key}"
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return PipelineError(f"{PARAMS_FILE}: {key}: unknown key (allowed: {', '.join(fields)})")
    if kind in ("missing", "missing_keyword_argument"):
        return PipelineError(f"{PARAMS_FILE}: {key}: required key is missing")
    if isinstance(cause, Problem):
        return PipelineError(f"{PARAMS_FILE}: {key}: {cause.message}")
    field = fields.get(str(loc[0])) if loc else None
    if isinstance(cause, Invalid):
        return PipelineError(f"{PARAMS_FILE}: {key}: invalid value {value!r} (allowed: {cause.allowed})")
    if kind.endswith("_type") or kind in ("finite_number", "literal_error") and not isinstance(value, str):
        expected = KINDS.get(_kind(field.annotation) if field and len(loc) == 1 else None, kind.removesuffix("_type"))
        if kind == "literal_error":
            expected = "a string"
        elif kind.endswith("_type") and len(loc) > 1:
            expected = {"string_type": "a string", "int_type": "an integer", "float_type": "a number"}.get(kind, expected)
        return PipelineError(f"{PARAMS_FILE}: {key}: expected {expected}, got {value!r}")
    text = allowed(field, str(loc[-1])) if field and len(loc) == 1 else error["msg"]
    return PipelineError(f"{PARAMS_FILE}: {key}: invalid value {value!r} (allowed: {text})")


def _kind(annotation) -> type | None:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return typing.get_origin(annotation) or annotation
