"""Limits on what pipeline and data files may hold, so a hostile file gets a clear error, not a crash.

Pipeline files and data files arrive through pull requests: a YAML alias bomb, data nested 100,000
levels deep or a number of 5000 digits must end as a ``file:line:col`` problem, never as a
``RecursionError``, a hang or a memory blow-up. The YAML limits are applied in ``yamlio`` (pipeline
files and ``.yaml`` data files alike), the JSON ones by the JSON readers of ``datafiles`` through
``loads`` and ``raw_decode`` here. Every value passes the same depth limit; nothing deeper than 64
levels can be sent anyway (protocol §2.2, PHP's ``max_input_nesting_level``).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100
"""Levels of lists and maps a value may nest."""
MAX_NODES = 2_000_000
"""Values (scalars, lists, maps) one YAML document may expand to, aliases counted at every use."""
MAX_ALIASED = 100_000
"""Values one YAML document may reach through aliases, counted at every use: reuse of a block of
defaults stays far below; an alias bomb (each level nine aliases of the one before) goes over fast."""
MAX_TEXT = 64 * 1024 * 1024
"""Characters of scalar text one YAML document may expand to, aliases counted at every use."""
MAX_CSV_FIELD = 16 * 1024 * 1024
"""Characters one CSV field may hold: the csv module stops at 131,072 of its own, shorter than a long
description or an HTML body that a CRM field keeps (MySQL's MEDIUMTEXT holds 16 MiB)."""
MAX_DIGITS = 1000
"""Digits of one number in a data or pipeline file; a longer one is refused (quote it to keep text)."""


class _Refused(ValueError):
    """A JSON value over a limit, raised from inside the decoder."""


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"a number has {len(text.lstrip('-'))} digits; at most {MAX_DIGITS} are read")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_DIGITS + 10:
        raise _Refused(f"a number has {len(text)} characters; at most {MAX_DIGITS} digits are read")
    return float(text)


def _constant(name: str) -> None:
    raise _Refused(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and maps deeper than ``limit`` levels."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def raw_decode(text: str, index: int = 0) -> tuple[Any, int]:
    """``json.JSONDecoder.raw_decode`` within the limits; a value over one is a ``JSONDecodeError``."""
    try:
        value, end = _DECODER.raw_decode(text, index)
    except _Refused as error:
        raise json.JSONDecodeError(str(error), text, index) from None
    except RecursionError:
        raise json.JSONDecodeError(f"the data nests deeper than {MAX_DEPTH} levels", text, index) from None
    # each level opens with a bracket, so a text of fewer than MAX_DEPTH of them (counted in C,
    # those inside strings too) cannot nest too deep: the walk is for the rare one that might
    if text.count("{", index, end) + text.count("[", index, end) >= MAX_DEPTH and too_deep(value):
        raise json.JSONDecodeError(f"the data nests deeper than {MAX_DEPTH} levels", text, index)
    return value, end


def loads(text: str) -> Any:
    """``json.loads`` within the limits."""
    start = len(text) - len(text.lstrip(" \t\r\n"))
    value, end = raw_decode(text, start)
    rest = len(text) - len(text[end:].lstrip(" \t\r\n"))
    if rest != len(text):
        raise json.JSONDecodeError("Extra data", text, rest)
    return value


TEMPLATE_STEPS = 100_000
"""Loop iterations and calls one template rendering may make."""
TEMPLATE_VALUE = 1_000_000
"""Characters (or items) of any one value a template makes."""
TEMPLATE_WORK = 16_000_000
"""Characters (or items) all the values one template rendering makes may add up to."""
TEMPLATE_WIDTH = 10_000
"""The largest width or precision a format (``'%5d'``, ``'{:>5}'``, ``center(5)``) may ask for."""
TEMPLATE_SECONDS = 2.0
"""Seconds one template rendering may take."""
TEMPLATES_SECONDS = 60.0
"""Seconds all the template renderings of one pipeline load may take together."""
