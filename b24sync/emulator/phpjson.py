"""How PHP turns values into JSON and text: array shapes and scalar-to-string (protocol §5.3, §4.3)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def php_array(mapping: Mapping[str, Any]) -> Any:
    """How PHP ``json_encode`` shapes an array: empty or keys ``0..n-1`` give a list, else an object."""
    if not mapping:
        return []
    for index, key in enumerate(mapping):
        if key != str(index):
            return dict(mapping)
    return list(mapping.values())


def php_json_value(value: Any) -> Any:
    """A whole result shaped as PHP would encode it: every empty or sequential map becomes a list."""
    # plain loops, one stack frame per level: results may nest as deep as PHP's 512 levels
    if isinstance(value, dict):
        if not value:
            return []
        shaped: dict[str, Any] = {}
        for key, item in value.items():
            shaped[str(key)] = php_json_value(item)
        return php_array(shaped)
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            items.append(php_json_value(item))
        return items
    return value


def _php_float(value: float) -> str:
    # PHP prints floats with 14 significant digits ("precision" ini), exponents as 1.0E+25
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = f"{value:.14G}"
    if "E" not in text:
        return text
    mantissa, exponent = text.split("E")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}E{'-' if exponent.startswith('-') else '+'}{int(exponent.lstrip('+-'))}"


def php_string(value: Any) -> str | None:
    """A scalar as PHP splices it into text; ``None`` for what is not a scalar (arrays, null)."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _php_float(value)
    if isinstance(value, str):
        return value
    return None
