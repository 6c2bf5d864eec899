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
    LinkValue,
    Part,
    SandboxEnvironment,
    SecretRef,
    SecretValue,
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
