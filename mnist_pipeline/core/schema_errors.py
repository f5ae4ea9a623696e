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

EXPECTED = {"int_type": "an integer", "float_type": "a number", "finite_number": "a number", "string_type": "a string",
            "literal_error": "a string", "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping"}


class Refused(ValueError):
    """Raised by a validator: what is wrong with the field's value, or with its entry `key`."""

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.message, self.key = message, key


def _bound(value) -> str:
    """2^63, not 9223372036854775808."""
    big = isinstance(value, int) and value >= 2**32 and value & (value - 1) == 0
    return f"2^{value.bit_length() - 1}" if big else str(value)


def allowed(field: FieldInfo, name: str) -> str:
    """`> 0`, `0 < momentum < 1`, `auto|cpu|cuda|mps`, with the field's examples: from its declaration."""
    if typing.get_origin(field.annotation) is typing.Literal:
        text = "|".join(typing.get_args(field.annotation))
    else:
        low = next((f"{_bound(c.gt)} <" if isinstance(c, Gt) else f"{_bound(c.ge)} <="
                    for c in field.metadata if isinstance(c, (Gt, Ge))), "")
        high = next((f"< {_bound(c.lt)}" if isinstance(c, Lt) else f"<= {_bound(c.le)}"
                     for c in field.metadata if isinstance(c, (Lt, Le))), "")
        if low and high:
            text = f"{low} {name} {high}"
        else:  # `0 <` reads `> 0`
            text = " ".join(reversed(low.split())).replace("<", ">") if low else high or "any value of its type"
    if field.examples:
        text += f", e.g. {' or '.join(str(e) for e in field.examples)}"
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return text + (f", {extra['note']}" if "note" in extra else "")


def first_error(exc: ValidationError, fields: dict[str, FieldInfo], where) -> PipelineError:
    """The first of pydantic's errors as one line. fields: the schema's fields by name;
    where(key): the key's place in params.yaml, e.g. `train.lr` or `models.model_4.lr`."""
    error = exc.errors()[0]
    loc, kind, value = error["loc"], error["type"], error["input"]
    cause = (error.get("ctx") or {}).get("error")
    key = where(str(loc[0]) if loc else "") + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    key += f".{cause.key}".replace(".[", "[") if isinstance(cause, Refused) and cause.key else ""
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        problem = f"unknown key (allowed: {', '.join(fields)})"
    elif kind in ("missing", "missing_keyword_argument"):
        problem = "required key is missing"
    elif isinstance(cause, Refused):
        problem = cause.message
    elif kind in EXPECTED and not (kind == "literal_error" and isinstance(value, str)):
        problem = f"expected {EXPECTED[kind]}, got {value!r}"
    else:
        text = allowed(fields[loc[0]], loc[0]) if len(loc) == 1 and loc[0] in fields else error["msg"]
        problem = f"invalid value {value!r} (allowed: {text})"
    return PipelineError(f"{PARAMS_FILE}: {key}: {problem}")
