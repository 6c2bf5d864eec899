"""Reading method parameters that arrive either as JSON types or as PHP ``parse_str`` strings.

Reference section 2.2: inside a batch (and in form or GET bodies) every leaf is a string and lists
are maps keyed "0", "1", ...; from a JSON body they keep their JSON types. Every reader here
accepts both forms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from .base import MethodError

# ids and counts are 64-bit on the portal; longer digit strings are not integers
_INT = re.compile(r"^\s*[+-]?\d{1,18}\s*$")
_INT_LIMIT = 2**63
_FLOAT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_TRUE_WORDS = frozenset({"y", "yes", "true", "1", "on"})
_FALSE_WORDS = frozenset({"n", "no", "false", "0", "off", ""})


def param(params: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``params``, compared case-insensitively; None if absent."""
    # protocol §9.3: old CRM methods resolve parameter names case-insensitively (fields/FIELDS/arFields)
    lowered = {key.lower(): value for key, value in params.items() if isinstance(key, str)}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def as_list(value: Any) -> list[Any] | None:
    """A JSON list or a PHP list-map (``{"0": .., "1": ..}``) as a list; None for anything else."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return None


def as_map(value: Any) -> dict[str, Any] | None:
    """A JSON object (or a list, keyed by position as PHP would) as a dict; None for a scalar."""
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return None


def to_int(value: Any) -> int | None:
    """An integer from a JSON number or a numeric string; None when it is not one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if abs(value) < _INT_LIMIT else None
    if isinstance(value, float) and value.is_integer() and abs(value) < _INT_LIMIT:
        return int(value)
    if isinstance(value, str) and _INT.match(value):
        return int(value)
    return None


def to_float(value: Any) -> float | None:
    """A number from a JSON number or a numeric string; None when it is not one."""
    if isinstance(value, bool):
        return float(value)
    number: float | None = None
    if isinstance(value, (int, float)):
        number = float(value) if abs(value) < 1e300 else None
    elif isinstance(value, str) and _FLOAT.match(value):
        number = float(value)
    # NaN and infinities cannot be written as JSON
    return number if number is not None and math.isfinite(number) else None


def to_yn(value: Any) -> str | None:
    """``"Y"``/``"N"`` from Y/N, 1/0, true/false in any JSON or string form; None when unreadable."""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, float)):
        return "Y" if value else "N"
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return "Y"
        if word in _FALSE_WORDS:
            return "N"
    return None


def start_of(params: Mapping[str, Any]) -> int:
    """The ``start`` parameter as the server hands it over: an integer, non-numeric as 0."""
    # protocol §1.3: a top-level start is cast to int; anything non-numeric becomes 0
    value = param(params, "start")
    number = to_int(value)
    if number is None:
        as_float = to_float(value)
        return int(as_float) if as_float is not None else 0
    return number


def required_int(params: Mapping[str, Any], name: str) -> int:
    """An integer parameter the Engine-style methods require: ``"100"`` error when absent."""
    value = param(params, name)
    if value is None or value == "":
        raise MethodError("100", f"Could not find value for parameter {{{name}}}")
    number = to_int(value)
    if number is None:
        raise MethodError(
            "100", f"Invalid value {value!r} to match with parameter {{{name}}}. Should be value of type int."
        )
    return number
