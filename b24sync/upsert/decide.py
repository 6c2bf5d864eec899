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

from b24sync.bitrix.comms import DEFAULT_VALUE_TYPE, MATCH_KEYS, normalise
from b24sync.bitrix.limits import MAX_BATCH

KEYS_PER_COMMAND = 50
Action = Literal["create", "update", "unchanged", "ambiguous", "skip", "delete"]
OnConflict = Literal["fail", "skip", "oldest"]
FmMode = Literal["add", "replace"]
FM = "fm"


@dataclass(frozen=True)
class Wanted:
    """One upsert instance: the record it names (``match``) and the state it wants (``fields``)."""

    key: str
    match: Mapping[str, Any]
    fields: Mapping[str, Any]
    linked: frozenset[str] = frozenset()
    on_conflict: OnConflict = "fail"
    fm_mode: FmMode = "add"


@dataclass(frozen=True)
class Decision:
    """What applying an instance will do, with the changed fields as ``field: (old, new)``.

    ``sent`` holds what an update sends for a field when that is not the desired value itself: for
    ``fm``, only the missing entries and the deletions (protocol §9.5). ``matches`` lists every
    record that matched when there were several.
    """

    key: str
    action: Action
    record_id: int | None = None
    diff: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    matches: tuple[int, ...] = ()
    sent: Mapping[str, Any] = field(default_factory=dict)


def match_key(values: Mapping[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    """The match values of an instance, as comparable text (communications normalised)."""
    return tuple(
        normalise(MATCH_KEYS[name], values.get(name)) if name in MATCH_KEYS else scalar_text(values.get(name))
        for name in names
    )


def record_key(record: Mapping[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    """The match values of a record, for names that are fields (not communications)."""
    return tuple(scalar_text(record.get(name)) for name in names)


def decide(wanted: Wanted, records: Sequence[Mapping[str, Any]]) -> Decision:
    """Create, update (with the diff), unchanged; with several matching records, by ``on_conflict``:
    ambiguous (fail), skip, or the decision against the oldest record (lowest id)."""
    if not records:
        return Decision(wanted.key, "create")
    ids = tuple(sorted(int(r["id"]) for r in records))
    if len(records) > 1 and wanted.on_conflict == "fail":
        return Decision(wanted.key, "ambiguous", matches=ids)
    if len(records) > 1 and wanted.on_conflict == "skip":
        return Decision(wanted.key, "skip", matches=ids)
    record = min(records, key=lambda r: int(r["id"]))
    diff: dict[str, tuple[Any, Any]] = {}
    sent: dict[str, Any] = {}
    for name, value in wanted.fields.items():
        if name == FM and name not in wanted.linked:
            change = fm_change(record.get(FM), value, wanted.fm_mode)
            if change is not None:
                diff[name] = (list(fm_text(record.get(FM))), list(change.after))
                sent[name] = change.payload
        elif name in wanted.linked or not same_value(record.get(name), value):
            diff[name] = (record.get(name), value)
    matches = ids if len(ids) > 1 else ()
    return Decision(wanted.key, "update" if diff else "unchanged", int(record["id"]), diff, matches, sent)


# -- multifields (fm) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FmChange:
    """What an update sends to make a record's ``fm`` hold the desired entries, and the result."""

    payload: Mapping[str, Mapping[str, Any]]
    after: tuple[str, ...]


def fm_entries(desired: Any) -> list[dict[str, str]]:
    """Desired ``fm`` entries as the portal takes them on add: empty values left out, each
    communication once (compared normalised), ``valueType`` defaulting to WORK."""
    entries: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for entry in desired if isinstance(desired, (list, tuple)) else []:
        if not isinstance(entry, Mapping):
            continue
        type_id = str(entry.get("typeId") or "").upper()
        value = "" if entry.get("value") is None else str(entry["value"]).strip()
        key = (type_id, normalise(type_id, value))
        if not type_id or not key[1] or key in seen:
            continue
        seen.add(key)
        value_type = str(entry.get("valueType") or DEFAULT_VALUE_TYPE).upper()
        entries.append({"typeId": type_id, "valueType": value_type, "value": value})
    return entries


def fm_change(current: Any, desired: Any, mode: FmMode) -> FmChange | None:
    """The ``fm`` update that makes ``current`` hold every desired entry (protocol §9.5), or None.

    Only missing entries are sent, keyed ``n0``, ``n1``, ... (the object form an update needs: an
    array would append everything again); a value the record has in another spelling (``ANN@x``,
    ``+7 (999) 123-45-67``) counts as present. With ``replace`` the record's other entries of the
    types named, and repeated ones, are deleted by their id with ``typeId`` and an empty value.
    """
    wanted = fm_entries(desired)
    have: list[Mapping[str, Any]] = [entry for entry in current or [] if isinstance(entry, Mapping)]
    present = {_fm_key(entry) for entry in have}
    payload: dict[str, dict[str, Any]] = {}
    missing = [entry for entry in wanted if _fm_key(entry) not in present]
    for position, entry in enumerate(missing):
        payload[f"n{position}"] = dict(entry)
    kept: list[Mapping[str, Any]] = list(have)
    if mode == "replace":
        types = {entry["typeId"] for entry in wanted}
        keys = {_fm_key(entry) for entry in wanted}
        kept = []
        seen: set[tuple[str, str]] = set()
        for held in have:
            key = _fm_key(held)
            if key[0] in types and (key not in keys or key in seen):
                # protocol §9.5: a deletion is the entry's id with typeId and an empty value
                payload[str(held.get("id"))] = {"typeId": key[0], "value": ""}
            else:
                kept.append(held)
            seen.add(key)
    if not payload:
        return None
    return FmChange(payload, fm_text(kept) + fm_text(missing))


def _fm_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    type_id = str(entry.get("typeId") or "").upper()
    return type_id, normalise(type_id, entry.get("value"))


def fm_text(entries: Any) -> tuple[str, ...]:
    """Entries as people read them in a plan: ``EMAIL ann@example.com``."""
    return tuple(
        f"{str(entry.get('typeId') or '').upper()} {entry.get('value')}"
        for entry in entries or []
        if isinstance(entry, Mapping)
    )


def create_fields(match: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a create sends: the match fields and ``fields``, ``fm`` as the array an add
    takes, holding the e-mail or phone the record was matched by."""
    sent = {name: value for name, value in match.items() if name not in MATCH_KEYS}
    sent.update(fields)
    comms = [
        {"typeId": MATCH_KEYS[name], "value": value} for name, value in match.items() if name in MATCH_KEYS
    ]
    if FM in fields or comms:
        given = fields.get(FM)
        sent[FM] = fm_entries([*(given if isinstance(given, (list, tuple)) else []), *comms])
    return sent


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
