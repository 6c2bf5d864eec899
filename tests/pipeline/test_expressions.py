"""The fast path must give what jinja gives: same values, same errors."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from b24sync.pipeline.expressions import compile_fast, concatenate
from b24sync.pipeline.sandbox import SandboxEnvironment, Steps, StrictNames, Text

EXPRESSIONS = [
    "item.name",
    "item['name']",
    "item.tags[0]",
    "item.tags[idx]",
    "item.name == 'Ann'",
    "item.count >= 3",
    "'a' in item.tags",
    "'z' not in item.tags",
    "not item.vip",
    "item.vip and item.name",
    "item.vip or item.count",
    "item.missing",
    "item.tags[7]",
    "nothing",
    "item.missing != ''",
    "item.name.upper",
    "vars.n",
]
SCOPES: list[dict[str, Any]] = [
    {"item": {"name": "Ann", "tags": ["a", "b"], "count": 3, "vip": True}, "idx": 1},
    {"item": {"name": "Bob", "tags": [], "count": 0, "vip": False}, "idx": 0},
]


def _environment() -> SandboxEnvironment:
    return SandboxEnvironment(undefined=StrictNames)


def _by_jinja(env: SandboxEnvironment, source: str, scope: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = env.compile_expression(source, undefined_to_none=False)(**scope)
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return ("value", value)
    except jinja2.UndefinedError as error:
        return ("error", error.message)


def _by_fast(env: SandboxEnvironment, source: str, scope: dict[str, Any]) -> tuple[str, Any]:
    compiled = compile_fast(env.parse("{{ " + source + " }}").body[0].nodes[0], env, base)  # type: ignore[attr-defined]
    assert compiled is not None
    try:
        value = compiled(scope)
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return ("value", value)
    except jinja2.UndefinedError as error:
        return ("error", error.message)


base = {"vars": {"n": 5}, "steps": Steps({})}


@pytest.mark.parametrize("source", EXPRESSIONS)
@pytest.mark.parametrize("scope", SCOPES, ids=["ann", "bob"])
def test_fast_expressions_agree_with_jinja(source: str, scope: dict[str, Any]) -> None:
    env = _environment()
    expected = _by_jinja(env, source, {**base, **scope})
    got = _by_fast(env, source, scope)
    if expected[0] == "value" and callable(expected[1]):
        assert got[0] == "value" and callable(got[1])
    else:
        assert got == expected


def test_unsupported_expressions_fall_back_to_jinja() -> None:
    env = _environment()
    for source in ("item.name | upper", "1 + 2", "env('X')", "x if y else z", "[1, 2]"):
        node = env.parse("{{ " + source + " }}").body[0].nodes[0]  # type: ignore[attr-defined]
        assert compile_fast(node, env, base) is None


def test_concatenate_joins_text_and_keeps_links() -> None:
    env = _environment()
    steps_base = {"steps": Steps({"company": False})}
    pieces = tuple(
        compile_fast(env.parse("{{ " + s + " }}").body[0].nodes[0], env, steps_base)  # type: ignore[attr-defined]
        for s in ("item.n", "steps.company.item.id")
    )
    assert all(p is not None for p in pieces)
    value = concatenate(("row ", pieces[0], ": ", pieces[1]), {"item": {"n": 3}})  # type: ignore[arg-type]
    assert isinstance(value, Text)
    assert value.parts[0] == "row 3: "
    assert concatenate(("row ", pieces[0]), {"item": {"n": None}}) == "row None"  # type: ignore[arg-type]
