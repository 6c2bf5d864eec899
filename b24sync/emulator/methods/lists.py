"""Filtering, ordering and paging shared by every list method (protocol §8, §9).

A family says how its filter keys map to stored fields (``Resolver``) and how a stored record
yields a field's value (``Getter``); this module does the rest. Tables are kept in ascending id
order, so a list ordered by id needs no sort, an id range is found by bisection, and a page read
without a count (``start=-1``) stops after 50 matches.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .base import MethodError
from .params import as_list, as_map, to_float

PAGE_SIZE = 50
# longest prefixes first: "!=" must win over "!", ">=" over ">"
_OPERATORS = ("!=%", "!%=", "!@", "!=", "!%", ">=", "<=", "=%", "%=", "@", "!", ">", "<", "%", "=")
_NORMAL = {"!": "!=", "": "=", "!%=": "!=%"}

Coerce = Callable[[Any], Any]
Resolver = Callable[[str], "tuple[str, Coerce] | None"]
Getter = Callable[[dict[str, Any], str], Any]
Predicate = Callable[[dict[str, Any]], bool]
Paging = Literal["legacy", "exact"]


@dataclass(frozen=True)
class Condition:
    """One filter term: a stored field, an operator and the value(s) coerced to the stored type."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Group:
    """A nested filter group joined by AND or OR (``crm.item.list``'s ``logic`` groups)."""

    logic: str
    terms: tuple[Condition | Group, ...]


@dataclass(frozen=True)
class Page:
    """One page of records plus what goes to the envelope's ``total`` and ``next``."""

    rows: list[dict[str, Any]]
    total: int
    next: int | None


def split_key(key: str) -> tuple[str, str]:
    """A filter key as (operator, field name): ``">=ID"`` -> (">=", "ID")."""
    for op in _OPERATORS:
        if key.startswith(op):
            return _NORMAL.get(op, op), key[len(op) :]
    return "=", key


def parse_filter(raw: Any, resolve: Resolver, strict: bool) -> Group:
    """The method's ``filter`` as an AND group; unknown fields raise when ``strict``, else are dropped."""
    # protocol §9.2: crm.item.list rejects unknown filter fields; §9.3: old lists drop them silently
    mapping = as_map(raw) if raw not in (None, "") else {}
    if mapping is None:
        raise MethodError("", "Parameter 'filter' must be array.")
    return _parse_group(mapping, resolve, strict, "AND")


def _parse_group(mapping: Mapping[str, Any], resolve: Resolver, strict: bool, logic: str) -> Group:
    terms: list[Condition | Group] = []
    for key, value in mapping.items():
        if key.lower() == "logic":
            continue
        if key.isdigit() and isinstance(value, (dict, list)):
            nested = as_map(value) or {}
            inner_logic = str(nested.get("logic", nested.get("LOGIC", "AND"))).upper()
            terms.append(_parse_group(nested, resolve, strict, "OR" if inner_logic == "OR" else "AND"))
            continue
        op, name = split_key(key)
        resolved = resolve(name)
        if resolved is None:
            if strict:
                raise MethodError(
                    "INVALID_ARG_VALUE", f"Invalid filter: field '{name}' is not allowed in filter"
                )
            continue
        field, coerce = resolved
        values = as_list(value)
        if values is not None:
            # an array with = or != is IN / NOT IN, as in every Bitrix ORM filter
            op = {"=": "@", "!=": "!@"}.get(op, op)
        elif op in ("@", "!@"):
            values = [value]
        try:
            coerced = [coerce(item) for item in values] if values is not None else coerce(value)
        except ValueError:
            if strict:
                raise MethodError(
                    "INVALID_ARG_VALUE", f"Invalid filter: field '{name}' has invalid value"
                ) from None
            coerced = values if values is not None else value
        terms.append(Condition(field, op, coerced))
    return Group(logic, tuple(terms))


def parse_order(raw: Any, resolve: Resolver, strict: bool) -> list[tuple[str, bool]]:
    """The ``order`` map as [(stored field, descending)]; unknown fields raise when ``strict``."""
    mapping = as_map(raw) if raw not in (None, "") else {}
    if mapping is None:
        raise MethodError("", "Parameter 'order' must be array.")
    order: list[tuple[str, bool]] = []
    for name, direction in mapping.items():
        resolved = resolve(name)
        if resolved is None:
            if strict:
                raise MethodError(
                    "INVALID_ARG_VALUE", f"Invalid order: field '{name}' is not allowed in order"
                )
            continue
        word = str(direction).strip().upper()
        if word not in ("ASC", "DESC"):
            if strict:
                raise MethodError(
                    "INVALID_ARG_VALUE",
                    "Invalid order: allowed sort directions are ASC, DESC. "
                    f"But got '{direction}' for field '{name}'",
                )
            word = "ASC"
        order.append((resolved[0], word == "DESC"))
    return order


def _number(value: Any) -> float | None:
    return None if isinstance(value, bool) else to_float(value)


def _equality_key(value: Any) -> tuple[str, Any]:
    """What an equality filter compares: the number when there is one, else the lower-cased text.

    A NULL matches an empty value, as ``!=name: ""`` means "has a name".
    """
    number = _number(value)
    return ("n", number) if number is not None else ("t", _text(value).lower())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare(stored: Any, wanted: Any) -> int | None:
    if stored is None or stored == "":
        return None
    left, right = _number(stored), _number(wanted)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    a, b = _text(stored), _text(wanted)
    return (a > b) - (a < b)


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(part) for part in pattern.split("%"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _scalar_test(op: str, wanted: Any) -> Callable[[Any], bool]:
    if op in ("@", "!@"):
        # one set lookup per record instead of one comparison per listed value
        keys = {_equality_key(item) for item in wanted}
        return lambda value: _equality_key(value) in keys
    if op in ("%", "!%"):
        needle = _text(wanted).lower()
        return lambda value: value is not None and needle in _text(value).lower()
    if op in ("=%", "%=", "!=%"):
        pattern = _like(_text(wanted))
        return lambda value: value is not None and pattern.match(_text(value)) is not None
    if op in ("=", "!="):
        key = _equality_key(wanted)
        return lambda value: _equality_key(value) == key
    tests: dict[str, Callable[[int], bool]] = {
        ">": lambda c: c > 0,
        ">=": lambda c: c >= 0,
        "<": lambda c: c < 0,
        "<=": lambda c: c <= 0,
    }
    sign = tests[op]

    def ordered(value: Any) -> bool:
        result = _compare(value, wanted)
        return result is not None and sign(result)

    return ordered


def _predicate(term: Condition | Group, get: Getter) -> Predicate:
    if isinstance(term, Group):
        parts = [_predicate(inner, get) for inner in term.terms]
        if term.logic == "OR":
            return lambda record: not parts or any(part(record) for part in parts)
        return lambda record: all(part(record) for part in parts)
    negated = term.op.startswith("!")
    test = _scalar_test(term.op, term.value)
    field = term.field

    def matches(record: dict[str, Any]) -> bool:
        value = get(record, field)
        values = value if isinstance(value, list) else [value]
        if not values:
            values = [None]
        hit = any(test(item) for item in values)
        return not hit if negated else hit

    return matches


def _id_window(ids: list[int], terms: Iterable[Condition | Group], id_field: str) -> list[int]:
    """Narrow ascending ids by the filter's plain conditions on the id (the keyset walk of §8.3)."""
    low, high = 0, len(ids)
    for term in terms:
        if not isinstance(term, Condition) or term.field != id_field:
            continue
        bound = _number(term.value)
        if bound is None:
            continue
        if term.op == ">":
            low = max(low, bisect.bisect_right(ids, bound))
        elif term.op == ">=":
            low = max(low, bisect.bisect_left(ids, bound))
        elif term.op == "<":
            high = min(high, bisect.bisect_left(ids, bound))
        elif term.op == "<=":
            high = min(high, bisect.bisect_right(ids, bound))
    return ids[low:high] if (low, high) != (0, len(ids)) else ids


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or value == "":
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    return (2, str(value).lower())


def select_page(
    table: Mapping[int, dict[str, Any]],
    where: Group,
    order: list[tuple[str, bool]],
    start: int,
    paging: Paging,
    get: Getter,
    id_field: str,
) -> Page:
    """Filter, order and cut one page; ``start < 0`` reads the first 50 without counting."""
    ids = _id_window(list(table), where.terms, id_field)
    match = _predicate(where, get)
    by_id_only = all(field == id_field for field, _ in order)
    descending = bool(order) and order[0][1]
    if by_id_only and descending:
        ids = ids[::-1]
    if start < 0:
        # protocol §8.2: no offset, no count, total 0 and no next
        if by_id_only:
            rows: list[dict[str, Any]] = []
            for record_id in ids:
                record = table[record_id]
                if match(record):
                    rows.append(record)
                    if len(rows) == PAGE_SIZE:
                        break
            return Page(rows, 0, None)
        return Page(
            _ordered([table[i] for i in ids if match(table[i])], order, get, by_id_only)[:PAGE_SIZE], 0, None
        )
    found = [table[i] for i in ids if match(table[i])] if where.terms else [table[i] for i in ids]
    found = _ordered(found, order, get, by_id_only)
    total = len(found)
    # protocol §8.1: old lists round start down to a page; ORM lists use it as an exact offset
    offset = (start // PAGE_SIZE) * PAGE_SIZE if paging == "legacy" else start
    rows = found[offset : offset + PAGE_SIZE]
    following = offset + PAGE_SIZE if paging == "legacy" else offset + len(rows)
    return Page(rows, total, following if following < total else None)


def _ordered(
    records: list[dict[str, Any]], order: list[tuple[str, bool]], get: Getter, by_id_only: bool
) -> list[dict[str, Any]]:
    if by_id_only:
        return records
    # stable passes from the last key to the first; equal rows keep ascending id order
    for field, descending in reversed(order):
        records = sorted(records, key=_key_of(field, get), reverse=descending)
    return records


def _key_of(field: str, get: Getter) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    return lambda record: _sort_key(get(record, field))
