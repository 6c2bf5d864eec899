"""Simple template expressions compiled to Python closures, with jinja's sandbox semantics.

Names, attribute and item access, constants, one comparison, ``not``, ``and`` and ``or`` cover most
pipeline templates (``{{ item.email }}``, ``{{ item.email != '' }}``). Evaluating them without a
jinja context per call makes rendering 100,000 rows several times faster; attribute and item
access still go through the sandbox, so the rules and the messages are the same.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import nodes

from b24sync.pipeline.sandbox import (
    LinkRef,
    LinkValue,
    Part,
    PathStep,
    SandboxEnvironment,
    SecretRef,
    SecretValue,
    Steps,
    StrictNames,
    Text,
    whole_result,
)

Fast = Callable[[Mapping[str, Any]], Any]
"""A compiled simple expression: evaluated without building a jinja context, which is much faster."""

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "gt": operator.gt,
    "lteq": operator.le,
    "gteq": operator.ge,
    "in": lambda left, right: left in right,
    "notin": lambda left, right: left not in right,
}


_DICT_ATTRIBUTES = frozenset(dir(dict))


def defined(value: Any) -> Any:
    """``value`` itself, or the undefined-name error when it is undefined."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


def compile_fast(node: nodes.Node, env: SandboxEnvironment, base: Mapping[str, Any]) -> Fast | None:
    """Compile names, attribute and item access, constants, comparisons, not/and/or; else ``None``."""
    if isinstance(node, nodes.Const):
        constant = node.value
        return lambda scope: constant
    if isinstance(node, nodes.Name):
        return None if node.name in ("env", "secret") else _lookup(node.name, base)
    if isinstance(node, (nodes.Getattr, nodes.Getitem)):
        general = _compile_access(node, env, base)
        if general is None:
            return None
        return _compile_link(node, env, base, general) or general
    if isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op in _COMPARE:
        left, right, compare = (
            compile_fast(node.expr, env, base),
            compile_fast(node.ops[0].expr, env, base),
            _COMPARE[node.ops[0].op],
        )
        if left is None or right is None:
            return None
        return lambda scope: compare(defined(left(scope)), defined(right(scope)))
    if isinstance(node, nodes.Not):
        operand = compile_fast(node.node, env, base)
        return None if operand is None else (lambda scope: not defined(operand(scope)))
    if isinstance(node, (nodes.And, nodes.Or)):
        first, second = compile_fast(node.left, env, base), compile_fast(node.right, env, base)
        if first is None or second is None:
            return None
        if isinstance(node, nodes.And):
            return lambda scope: defined(first(scope)) and second(scope)
        return lambda scope: defined(first(scope)) or second(scope)
    return None


def _compile_access(
    node: nodes.Getattr | nodes.Getitem, env: SandboxEnvironment, base: Mapping[str, Any]
) -> Fast | None:
    """Attribute or item access, each step through the sandbox."""
    inner = compile_fast(node.node, env, base)
    if inner is None:
        return None
    if isinstance(node, nodes.Getattr):
        attribute, get_attribute = node.attr, env.getattr
        if attribute in _DICT_ATTRIBUTES:
            return lambda scope: get_attribute(inner(scope), attribute)

        def get(scope: Mapping[str, Any]) -> Any:
            value = inner(scope)
            # a data row: jinja finds no such attribute on a dict and takes the item (same result)
            if value.__class__ is dict and attribute in value:
                return value[attribute]
            return get_attribute(value, attribute)

        return get
    argument, get_item = compile_fast(node.arg, env, base), env.getitem
    if argument is None:
        return None
    return lambda scope: get_item(inner(scope), argument(scope))


def _compile_link(
    node: nodes.Getattr | nodes.Getitem, env: SandboxEnvironment, base: Mapping[str, Any], general: Fast
) -> Fast | None:
    """``steps.X[KEY].a.b`` or ``steps.X.a.b`` (a constant path) as one direct lookup, or ``None``.

    Each instance then makes its ``LinkValue`` at once instead of one per step of the chain through
    the sandbox. Only what the sandbox would accept as it is takes the direct way (``steps`` the
    pipeline's, ``X`` a step, ``KEY`` text or a number for a ``for_each`` step, no key without one);
    anything else is left to ``general``, so the value and every error are the sandbox's own.
    """
    path: list[PathStep] = []
    current: nodes.Node = node
    while True:
        if isinstance(current, nodes.Getattr):
            step: object = current.attr
        elif isinstance(current, nodes.Getitem) and isinstance(current.arg, nodes.Const):
            step = current.arg.value
        else:
            break
        parent = current.node
        if isinstance(parent, nodes.Getattr) and isinstance(parent.node, nodes.Name):
            break  # ``current`` picks the instance or starts the path of ``steps.X``
        if not isinstance(step, (str, int)) or isinstance(step, bool):
            return None
        if isinstance(step, str) and (not step or any(c in step for c in "[] \t\r\n")):
            return None  # the sandbox's error
        path.append(step)
        current = parent
    handle = current.node if isinstance(current, (nodes.Getattr, nodes.Getitem)) else None
    if not (
        isinstance(handle, nodes.Getattr)
        and isinstance(handle.node, nodes.Name)
        and handle.node.name == "steps"
    ):
        return None
    root, name = _lookup("steps", base), handle.attr
    if isinstance(current, nodes.Getattr) or (
        isinstance(current, nodes.Getitem) and isinstance(current.arg, nodes.Const) and not path
    ):
        # steps.X.a.b (or steps.X[0]): a path into the whole result of a step without for_each
        first = current.attr if isinstance(current, nodes.Getattr) else current.arg.value  # type: ignore[attr-defined]
        if not isinstance(first, (str, int)) or isinstance(first, bool):
            return None
        if isinstance(first, str) and (not first or any(c in first for c in "[] \t\r\n")):
            return None
        whole = (first, *reversed(path))

        def unkeyed(scope: Mapping[str, Any]) -> Any:
            steps = root(scope)
            if steps.__class__ is Steps and steps.for_each.get(name) is False:
                return LinkValue(LinkRef(name, None, whole))
            return general(scope)

        return unkeyed
    assert isinstance(current, nodes.Getitem)
    key = compile_fast(current.arg, env, base)
    if key is None:
        return None
    rest = tuple(reversed(path))

    def keyed(scope: Mapping[str, Any]) -> Any:
        steps = root(scope)
        if steps.__class__ is Steps and steps.for_each.get(name) is True:
            value = key(scope)
            if value.__class__ is str or value.__class__ is int:
                return LinkValue(LinkRef(name, str(value), rest))
        return general(scope)

    return keyed


def _lookup(name: str, base: Mapping[str, Any]) -> Fast:
    def lookup(scope: Mapping[str, Any]) -> Any:
        if name in scope:
            return scope[name]
        if name in base:
            return base[name]
        return StrictNames(name=name)

    return lookup


def concatenate(pieces: tuple[str | Fast, ...], scope: Mapping[str, Any]) -> object:
    """A text template made of literal text and compiled expressions."""
    parts: list[Part] = []
    text: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            text.append(piece)
            continue
        value = whole_result(defined(piece(scope)))
        if isinstance(value, LinkValue | SecretValue):
            if text:
                parts.append("".join(text))
                text = []
            parts.append(value.ref if isinstance(value, LinkValue) else SecretRef(value.name))
        else:
            text.append(str(value))
    if not parts:
        return "".join(text)
    if text:
        parts.append("".join(text))
    return Text(tuple(parts))
