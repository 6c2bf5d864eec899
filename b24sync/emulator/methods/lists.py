"""Filtering, ordering and paging shared by every list method (protocol §8, §9).

A family says how its filter keys map to stored fields (``Resolver``) and how a stored record
yields a field's value (``Getter``); this module does the rest. Tables are kept in ascending id
order, so a list ordered by id needs no sort, an id range is found by bisection, and a page read
without a count (``start=-1``) stops after 50 matches. On a ``tables.Table`` an ``=``/``@`` term
reads its candidates from an index instead of walking every record, and a page of an id range
is counted without reading it, so a list costs the same in a table of 1,000 or 1,000,000.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..tables import Candidates, Table
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


def field_value(record: dict[str, Any], name: str) -> Any:
    """The plain getter: a stored field as it is (lets ``select_page`` use the table's indexes)."""
    return record.get(name)


def index_key(value: Any) -> Hashable | None:
    """The key an equality filter compares, as an index key (``_equality_key`` without its tag).

    A number and a text never compare equal, so the float or the lower-cased text alone is enough.
    Lists and maps give ``None``: they can change in place, so an index keeps them as candidates.
    """
    if isinstance(value, (list, dict, tuple)):
        return None
    number = _number(value)
    return number if number is not None else _text(value).lower()


def _window(ids: list[int], terms: Iterable[Condition | Group], id_field: str) -> tuple[int, int]:
    """Positions [low, high) of ascending ids left by the filter's plain conditions on the id (§8.3)."""
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
    return low, max(low, high)


def _is_window_term(term: Condition | Group, id_field: str) -> bool:
    """True when ``_window`` alone decides this term, so no record needs testing for it."""
    return (
        isinstance(term, Condition)
        and term.field == id_field
        and term.op in (">", ">=", "<", "<=")
        and _number(term.value) is not None
    )


def _equality_keys(term: Condition) -> list[Hashable] | None:
    """The index keys an ``=``/``@`` term accepts; None when the term cannot use an index."""
    if term.op == "=":
        wanted = [term.value]
    elif term.op == "@" and isinstance(term.value, list):
        wanted = term.value
    else:
        return None
    keys = [index_key(item) for item in wanted]
    return None if any(key is None for key in keys) else [key for key in keys if key is not None]


def _narrowed(
    table: Table, where: Group, id_field: str, indexable: Callable[[str], bool]
) -> list[int] | None:
    """Ascending candidate ids from the most selective ``=``/``@`` term, or None to walk the table.

    The candidates are a superset of the matches (every one is still tested), so the page is the
    same as a full scan's; only the number of records looked at changes.
    """
    if where.logic != "AND":
        return None
    best: Candidates | list[int] | None = None
    best_size = len(table) // 2
    for term in where.terms:
        if not isinstance(term, Condition):
            continue
        keys = _equality_keys(term)
        if keys is None:
            continue
        if term.field == id_field:
            ids = sorted(
                {
                    int(key)
                    for key in keys
                    if isinstance(key, float) and key.is_integer() and int(key) in table
                }
            )
            if len(ids) <= best_size:
                best, best_size = ids, len(ids)
        elif indexable(term.field):
            found = table.lookup(term.field, index_key, keys)
            if found.size <= best_size:
                best, best_size = found, found.size
    if best is None:
        return None
    return best if isinstance(best, list) else best.ascending()


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
    indexable: Callable[[str], bool] | None = None,
) -> Page:
    """Filter, order and cut one page; ``start < 0`` reads the first 50 without counting.

    ``indexable(field)`` says that ``get`` reads that field as it is stored, so an index on it
    answers for the getter; by default every field when ``get`` is ``field_value``, else none.
    """
    if indexable is None:
        indexable = _every if get is field_value else _none
    match = _predicate(where, get)
    by_id_only = all(field == id_field for field, _ in order)
    descending = by_id_only and bool(order) and order[0][1]
    narrowed = _narrowed(table, where, id_field, indexable) if isinstance(table, Table) else None
    if narrowed is not None:
        ids, low, high, window_only = narrowed, 0, len(narrowed), False
    else:
        ids = table.ordered_ids() if isinstance(table, Table) else list(table)
        low, high = _window(ids, where.terms, id_field) if where.logic == "AND" else (0, len(ids))
        window_only = where.logic == "AND" and all(_is_window_term(t, id_field) for t in where.terms)
    positions = range(high - 1, low - 1, -1) if descending else range(low, high)
    if start < 0:
        # protocol §8.2: no offset, no count, total 0 and no next
        if by_id_only:
            rows: list[dict[str, Any]] = []
            for position in positions:
                record = table.get(ids[position])
                if record is not None and match(record):
                    rows.append(record)
                    if len(rows) == PAGE_SIZE:
                        break
            return Page(rows, 0, None)
        return Page(_ordered(_matching(table, ids, positions, match), order, get, False)[:PAGE_SIZE], 0, None)
    # protocol §8.1: old lists round start down to a page; ORM lists use it as an exact offset
    offset = (start // PAGE_SIZE) * PAGE_SIZE if paging == "legacy" else start
    if window_only and by_id_only:
        # every record of the id window matches: count it and cut the page without reading the rest
        total = len(positions)
        rows = [table[ids[position]] for position in positions[offset : offset + PAGE_SIZE]]
    else:
        found = _ordered(_matching(table, ids, positions, match), order, get, by_id_only)
        total = len(found)
        rows = found[offset : offset + PAGE_SIZE]
    following = offset + PAGE_SIZE if paging == "legacy" else offset + len(rows)
    return Page(rows, total, following if following < total else None)


def _every(field: str) -> bool:
    return True


def _none(field: str) -> bool:
    return False


def _matching(
    table: Mapping[int, dict[str, Any]], ids: list[int], positions: range, match: Predicate
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for position in positions:
        record = table.get(ids[position])
        if record is not None and match(record):
            found.append(record)
    return found


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
