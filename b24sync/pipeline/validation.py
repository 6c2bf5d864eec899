"""Pydantic validation errors of a pipeline file as problems pointing at the YAML.

Pydantic's ``loc`` is followed down the YAML data to the node it names (union tags are skipped), and
the common error types get a message in the user's words: the key that is missing, the unknown key
with the closest valid one, the type that was expected and the one found.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.errors import Problem, format_path
from b24sync.pipeline.models import UNION_TAGS
from b24sync.pipeline.yamlio import Path, YamlDocument


def _yaml_path(loc: tuple[Any, ...], value: object) -> tuple[Path, object]:
    """Follow a pydantic ``loc`` down the YAML data; union tags are skipped, a missing last key returned."""
    path: list[str | int] = []
    leftover: object = None
    for position, part in enumerate(loc):
        if part in UNION_TAGS:
            # A union's tag, not a key of the file: {file: x.csv, delimiter: ";"} must not look for
            # "delimiter" under the value of "file".
            continue
        in_list = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if in_list or (isinstance(value, dict) and part in value):
            assert isinstance(value, (dict, list))
            path.append(part)
            value = value[part]
        elif position == len(loc) - 1:
            leftover = part
    return tuple(path), leftover


_KINDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "bool_type": "a boolean (true or false)",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "literal_error": "",
}


def describe(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (null)"
    return type(value).__name__


def problem_from_detail(
    document: YamlDocument,
    loc: tuple[Any, ...],
    detail: Any,
    allowed_keys: Callable[[Path], tuple[str, ...]],
) -> Problem:
    """One pydantic error as a problem at its place in the YAML, in words a user can act on."""
    kind = detail["type"]
    path, leftover = _yaml_path(loc, document.value)
    field = path[-1] if path else ""
    if kind == "missing":
        return document.problem(path, f"missing required key {leftover!r}", code="missing-key")
    if kind == "extra_forbidden":
        allowed = allowed_keys(path[:-1])
        close = difflib.get_close_matches(str(field), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
        return document.problem(path, f"unknown key {field!r}{hint}", key=True, code="unknown-key")
    value = detail.get("input")
    if kind == "string_pattern_mismatch" and field == "id":
        return document.problem(
            path, f"bad step id {value!r}: use a letter, then letters, digits or _", code="bad-step-id"
        )
    if kind == "string_pattern_mismatch" and field == "method":
        return document.problem(
            path, f"bad method name {value!r}: expected a name like crm.item.add", code="bad-method"
        )
    if field == "batch_size" and kind in ("greater_than_equal", "less_than_equal"):
        return document.problem(
            path, f"batch_size must be between 1 and {MAX_BATCH}, got {value!r}", code="bad-value"
        )
    if kind == "literal_error" and field == "version":
        return document.problem(
            path, f"unsupported version {value!r}: this b24sync reads version 1", code="unsupported-version"
        )
    if kind == "too_short" and field == "steps":
        return document.problem(path, "a pipeline needs at least one step", code="no-steps")
    if kind == "too_short" and field == "name":
        return document.problem(path, "name must not be empty", code="bad-value")
    if _KINDS.get(kind):
        subject = format_path(path[-2:]) if isinstance(field, int) else field
        return document.problem(
            path, f"{subject} must be {_KINDS[kind]}, not {describe(value)}", code="wrong-type"
        )
    if kind == "value_error" and detail.get("ctx", {}).get("error") is not None:
        # a model validator's own sentence, without pydantic's "Value error, " in front
        return document.problem(path, str(detail["ctx"]["error"]), code="bad-value")
    return document.problem(path, str(detail["msg"]), code="bad-value")


_TYPO = re.compile(r"unknown key '(.*)' \(did you mean '(.*)'\?\)$")


def _explained_by_typos(problems: list[Problem]) -> set[tuple[str, str]]:
    """(location, message) of every "missing required key" that a misspelt key beside it explains."""
    explained: set[tuple[str, str]] = set()
    for problem in problems:
        typo = _TYPO.match(problem.message)
        if typo is None:
            continue
        written, meant = typo.groups()
        parent = problem.location.removesuffix(written).removesuffix(".")
        explained.add((parent, f"missing required key {meant!r}"))
    return explained


def merge_alternatives(problems: list[Problem]) -> list[Problem]:
    """One problem per mistake: a value of several allowed types (``when``: text or true/false) gets
    one, and a required key written with a typo is reported as the typo alone ("did you mean")."""
    explained = _explained_by_typos(problems)
    problems = [p for p in problems if (p.location, p.message) not in explained]
    merged: list[Problem] = []
    for problem in problems:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and (previous.line, previous.col, previous.location)
            == (problem.line, problem.col, problem.location)
            and " must be " in previous.message
            and " must be " in problem.message
        ):
            head, _, rest = previous.message.partition(" must be ")
            expected, _, found = rest.rpartition(", not ")
            other = problem.message.partition(" must be ")[2].rpartition(", not ")[0]
            message = f"{head} must be {expected} or {other}, not {found}"
            merged[-1] = replace(problem, message=message)
        else:
            merged.append(problem)
    return merged
