"""The fast path must give what jinja gives: same values, same errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from b24sync.pipeline.expressions import compile_fast, concatenate
from b24sync.pipeline.sandbox import LinkRef, LinkValue, SandboxEnvironment, Steps, StrictNames, Text

CASES = Path(__file__).resolve().parent.parent / "cases" / "valid"

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


LINKS = [
    "steps.company[item.id].item.id",
    "steps.company[item.n].item.id",
    "steps.company[item.vip].item",
    "steps.company[item.tags].item",
    "steps.company[item.missing].item.id",
    "steps.company['c1']",
    "steps.company[item.id]",
    "steps.company[item.id][0]['id']",
    "steps.company[item.id].items",
    "steps.company[item.id]['a b']",
    "steps.company[item.id].item[1.5]",
    "steps.company[item.id].item[True]",
    "steps.company.item.id",
    "steps.one.item.id",
    "steps.one[0].id",
    "steps.one['c1'].id",
    "steps.one[item.n]",
    "steps.one.items",
    "steps.one['']",
    "steps.nope[item.id].id",
    "steps.nope.item",
]
LINK_SCOPES: list[dict[str, Any]] = [
    {"item": {"id": "c1", "n": 7, "vip": True, "tags": ["a"]}},
    {"item": {"id": "c2", "n": -1, "vip": False, "tags": []}},
    {"item": {"id": "c3", "n": 0, "vip": False, "tags": []}, "steps": {"company": 1}},
]


def _outcome(evaluate: Any) -> tuple[str, Any]:
    try:
        value = evaluate()
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return ("value", value)
    except Exception as error:  # the exact error is what must agree
        return (type(error).__name__, str(error))


@pytest.mark.parametrize("source", LINKS)
@pytest.mark.parametrize("scope", LINK_SCOPES, ids=["c1", "c2", "shadowed"])
def test_compiled_link_lookups_agree_with_the_sandbox(source: str, scope: dict[str, Any]) -> None:
    # a steps chain compiled into one direct lookup gives the link, or the error, that jinja's
    # sandbox gives step by step: a missing key, a bad index, an unknown step alike
    env = _environment()
    links_base = {"steps": Steps({"company": True, "one": False})}
    node = env.parse("{{ " + source + " }}").body[0].nodes[0]  # type: ignore[attr-defined]
    compiled = compile_fast(node, env, links_base)
    assert compiled is not None
    by_jinja = env.compile_expression(source, undefined_to_none=False)
    assert _outcome(lambda: compiled(scope)) == _outcome(lambda: by_jinja(**{**links_base, **scope}))


def test_a_direct_lookup_takes_no_step_through_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _environment()
    links_base = {"steps": Steps({"company": True, "one": False})}

    def refused(*args: Any) -> Any:
        raise AssertionError("went through the sandbox")

    monkeypatch.setattr(env, "getattr", refused)
    monkeypatch.setattr(env, "getitem", refused)
    for source, ref in (
        ("steps.company[item.id].item.id", LinkRef("company", "c1", ("item", "id"))),
        ("steps.one.items[0].id", LinkRef("one", None, ("items", 0, "id"))),
    ):
        node = env.parse("{{ " + source + " }}").body[0].nodes[0]  # type: ignore[attr-defined]
        compiled = compile_fast(node, env, links_base)
        assert compiled is not None
        assert compiled({"item": {"id": "c1"}}) == LinkValue(ref)


def test_compiled_link_lookups_plan_exactly_as_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    from b24sync.pipeline import expressions
    from b24sync.pipeline.loader import load_pipeline
    from b24sync.planning.planner import plan
    from b24sync.run.workflow import plan_json

    source = CASES / "onboard-acme.yaml"
    direct = plan_json(plan(load_pipeline(str(source))))
    monkeypatch.setattr(expressions, "_compile_link", lambda *args: None)
    assert plan_json(plan(load_pipeline(str(source)))) == direct
