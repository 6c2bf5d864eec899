"""Upsert decisions: create, update (with the diff) or unchanged, from the records that match. Pure.

The records are read by ``b24sync.upsert.state``. Comparison understands
Bitrix24's types (protocol §10): ids and numbers as text or numbers, ``Y``/``N`` booleans, dates
written back in the portal's time zone, empty values as ``null`` or ``""``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from b24sync.bitrix.limits import MAX_BATCH

KEYS_PER_COMMAND = 50
Action = Literal["create", "update", "unchanged", "ambiguous", "delete"]


@dataclass(frozen=True)
class Wanted:
    """One upsert instance: the record it names (``match``) and the state it wants (``fields``)."""

    key: str
    match: Mapping[str, Any]
    fields: Mapping[str, Any]
    linked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    """What applying an instance will do, with the changed fields as ``field: (old, new)``."""

    key: str
    action: Action
    record_id: int | None = None
    diff: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    matches: tuple[int, ...] = ()


def match_key(values: Mapping[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    """The match values of a record or an instance, as comparable text."""
    return tuple(scalar_text(values.get(name)) for name in names)


def decide(wanted: Wanted, records: Sequence[Mapping[str, Any]]) -> Decision:
    """Create, update (with the diff), unchanged, or ambiguous when several records match."""
    if not records:
        return Decision(wanted.key, "create")
    if len(records) > 1:
        return Decision(wanted.key, "ambiguous", matches=tuple(int(r["id"]) for r in records))
    record = records[0]
    diff = {
        name: (record.get(name), value)
        for name, value in wanted.fields.items()
        if name in wanted.linked or not same_value(record.get(name), value)
    }
    return Decision(wanted.key, "update" if diff else "unchanged", int(record["id"]), diff)


# -- comparing Bitrix24 values -------------------------------------------------------------------


def same_value(current: Any, desired: Any) -> bool:
    """Whether the portal's ``current`` value already is the ``desired`` one."""
    if isinstance(desired, (list, tuple)) or isinstance(current, (list, tuple)):
        return _as_set(current) == _as_set(desired)
    if isinstance(desired, Mapping) or isinstance(current, Mapping):
        return bool(current == desired)
    if _empty(current) or _empty(desired):
        return _empty(current) and _empty(desired)
    return scalar_text(current) == scalar_text(desired) or _same_moment(current, desired)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _as_set(value: Any) -> frozenset[str]:
    if _empty(value):
        return frozenset()
    items = value if isinstance(value, (list, tuple)) else [value]
    return frozenset(scalar_text(item) for item in items)


def scalar_text(value: Any) -> str:
    """Text that equal Bitrix24 values share: ``5``/``"5"``/``5.0``, ``True``/``"Y"``, ``None``/``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and _looks_numeric(value)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        if number.is_finite():
            text = format(number.normalize(), "f")
            return "0" if text == "-0" else text
    return str(value)


def _looks_numeric(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped != text or stripped.startswith("+"):
        return False
    body = stripped[1:] if stripped.startswith("-") else stripped
    # Leading zeros make an identifier ("007"), not a number.
    if len(body) > 1 and body.startswith("0") and not body.startswith("0."):
        return False
    return body.replace(".", "", 1).isdigit()


def _same_moment(current: Any, desired: Any) -> bool:
    """Dates: ``2024-04-19`` equals ``2024-04-19T03:00:00+03:00`` (protocol §10.2)."""
    if not isinstance(current, str) or not isinstance(desired, str):
        return False
    if len(desired) == 10 and desired[4] == "-" and current[:10] == desired:
        return len(current) == 10 or "T" in current
    try:
        left, right = datetime.fromisoformat(current), datetime.fromisoformat(desired)
    except ValueError:
        return False
    if (left.tzinfo is None) != (right.tzinfo is None):
        return False
    return left == right


def requests_for(instances: int) -> int:
    """Requests needed to read the state of ``instances`` records with distinct match values."""
    return math.ceil(instances / (KEYS_PER_COMMAND * MAX_BATCH))
