"""``$result[...]``-style references inside batch commands, with every quirk of protocol §4.

The server keeps five maps per HTTP request (``result``, ``next``, ``total``, ``time``, ``error``,
each keyed by command key) and rewrites every string value of a command's parsed parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from b24sync.emulator.phpjson import php_string

PREFIXES = ("result", "next", "total", "time", "error")
# protocol §4.1: the prefix is matched without regard to case; the lookup that follows is exact
_REFERENCE = re.compile(r"\$(result|next|total|time|error)(.*)", re.IGNORECASE | re.DOTALL)
_STEP = re.compile(r"\[([^\]]+)\]")
# PCRE's \s without the u flag: space, \t, \n, \v, \f, \r
_WHITESPACE = re.compile(r"([ \t\n\x0b\f\r])")
_LOOKS_LIKE_REFERENCE = re.compile(r"\$(?:result|next|total|time|error)", re.IGNORECASE)
_PHP_INT = re.compile(r"[ \t\n\r\x0b\f]*[+-]?[0-9]+[ \t\n\r\x0b\f]*\Z")
_CANONICAL_INT = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")


@dataclass
class ResultStore:
    """What earlier commands of this HTTP request left behind, by map name and command key."""

    maps: dict[str, dict[str, Any]] = field(default_factory=lambda: {name: {} for name in PREFIXES})


def _step(node: Any, key: str) -> tuple[bool, Any]:
    # PHP isset($node[$key]): a null value counts as missing (protocol §4.3 rule 2)
    if isinstance(node, dict):
        value = node.get(key)
        return value is not None, value
    if isinstance(node, list):
        if _CANONICAL_INT.match(key):
            index = int(key)
            if 0 <= index < len(node) and node[index] is not None:
                return True, node[index]
        return False, None
    if isinstance(node, str) and _PHP_INT.match(key):
        # a string offset: isset("abc"[1]) is true and yields one character; negatives count from the end
        index = int(key.strip())
        raw = node.encode("utf-8", "surrogateescape")
        if index < 0:
            index += len(raw)
        if 0 <= index < len(raw):
            return True, raw[index : index + 1].decode("utf-8", "surrogateescape")
    return False, None


def _snapshot(node: Any) -> Any:
    # PHP arrays are values: a passed node must not change when later commands add to the maps
    if isinstance(node, dict):
        copied: dict[str, Any] = {}
        for key, value in node.items():
            copied[key] = _snapshot(value)
        return copied
    if isinstance(node, list):
        items = []
        for value in node:
            items.append(_snapshot(value))
        return items
    return node


def _resolve(prefix: str, tail: str, store: ResultStore) -> tuple[bool, Any]:
    """The node a reference names, or (False, None) when it has no path step and stays text."""
    steps = _STEP.findall(tail)
    if not steps:
        # protocol §4.1: a bare $result or $result[] stays literal text
        return False, None
    node: Any = store.maps.get(prefix)
    for key in steps:
        found, value = _step(node, key)
        if not found:
            break  # protocol §4.3 rule 2: the deepest existing node
        node = value
    return True, node


def _substitute_string(value: str, store: ResultStore) -> Any:
    if "$" not in value or not _LOOKS_LIKE_REFERENCE.search(value):
        return value
    parts = _WHITESPACE.split(value)
    if len(parts) == 1:
        match = _REFERENCE.search(value)
        if match is not None and match.start() == 0:
            found, node = _resolve(match.group(1), match.group(2), store)
            # protocol §4.3 rule 3: a whole value keeps the node's type (arrays, ints, null)
            return _snapshot(node) if found else value
    out: list[str] = []
    for part in parts:
        match = _REFERENCE.search(part)
        if match is None:
            out.append(part)
            continue
        found, node = _resolve(match.group(1), match.group(2), store)
        text = php_string(node) if found else None
        # protocol §4.3 rules 1 and 3: the reference swallows the rest of its run; only scalars splice
        out.append(part if text is None else part[: match.start()] + text)
    return "".join(out)


def substitute(params: Any, store: ResultStore) -> Any:
    """Replace references in every value of a parsed command, at any depth; keys are left alone."""
    if isinstance(params, str):
        return _substitute_string(params, store)
    if isinstance(params, dict):
        rewritten: dict[str, Any] = {}
        for key, value in params.items():
            rewritten[key] = substitute(value, store)
        return rewritten
    if isinstance(params, list):
        items = []
        for value in params:
            items.append(substitute(value, store))
        return items
    return params
