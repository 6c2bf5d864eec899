"""Writing CRM records, shared by ``crm.item.*`` and the old ``crm.<type>.*`` methods.

Each family turns its own input shape into ``Changes`` (stored types, camelCase names); this module
creates, updates and deletes records, applies multifield operations and keeps the link tables
(deal contacts, contact companies) and the fields mirroring them in step.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..store import Store
from ..tables import Record
from .crm_fields import FIRST_SMART_PROCESS, CrmField, by_camel, defaults, type_title

# owner type -> (link table, field of all linked ids, field of the primary one): deal -> contacts,
# contact -> companies; _LINKED is the entity type the links point at
_LINKS = {
    1: ("lead_contacts", "contactIds", "contactId"),
    2: ("deal_contacts", "contactIds", "contactId"),
    3: ("contact_companies", "companyIds", "companyId"),
}
_LINKED = {1: 3, 2: 3, 3: 4}


def _table(store: Store, type_id: int) -> dict[int, list[dict[str, Any]]]:
    """The link table of an owner type (a lead's contacts live among the store's extras)."""
    name = _LINKS[type_id][0]
    owner = store if hasattr(store, name) else store.extras
    table: dict[int, list[dict[str, Any]]] = getattr(owner, name)
    return table


class FieldProblem(Exception):
    """A field value the portal refuses (``kind`` is ``required``, the one check done here)."""

    def __init__(self, kind: str, crm_field: CrmField) -> None:
        super().__init__(f"{kind}: {crm_field.camel}")
        self.kind = kind
        self.field = crm_field


@dataclass
class FmOp:
    """One multifield operation: ``add`` a value, ``set`` entry ``id``, or ``delete`` entry ``id``."""

    op: str
    type_id: str
    value_type: str = "WORK"
    value: str = ""
    entry_id: int | None = None


@dataclass
class Changes:
    """Field changes in stored form, plus multifield operations and link replacements."""

    values: dict[str, Any] = field(default_factory=dict)
    fm: list[FmOp] = field(default_factory=list)
    links: list[int] | None = None
    primary_link: int | None = None


def changes_of(type_id: int, values: dict[str, Any], fm: list[FmOp]) -> Changes:
    """Changes from stored-form values, moving link fields (``contactIds``, ``companyId``...) aside."""
    changes = Changes(dict(values), list(fm))
    if type_id in _LINKS:
        _, many, one = _LINKS[type_id]
        if many in changes.values:
            changes.links = [int(item) for item in changes.values.pop(many) or []]
        if one in changes.values:
            primary = changes.values.pop(one)
            changes.primary_link = primary if isinstance(primary, int) and primary > 0 else None
    return changes


def _given(type_id: int, name: str, changes: Changes) -> bool:
    if name == "fm":
        return bool(changes.fm)
    many, one = _LINKS.get(type_id, ("", "", ""))[1:]
    if name in (many, one):
        return bool(changes.links) or changes.primary_link is not None
    return not _empty(changes.values.get(name))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def create(store: Store, type_id: int, changes: Changes, user_id: int, now: float) -> dict[str, Any]:
    """Add a record with defaults, the caller's fields, multifields and links; returns it."""
    fields = by_camel(store, type_id)
    for name in store.required[type_id]:
        if name in fields and not _given(type_id, name, changes):
            raise FieldProblem("required", fields[name])
    # a Record tells its table when it changes, so the table's indexes follow every update
    record: dict[str, Any] = Record({name: ([] if spec.multiple else None) for name, spec in fields.items()})
    record.update(defaults(type_id, store))
    stamp = store.iso(now)
    record.update(
        createdTime=stamp, updatedTime=stamp, createdBy=user_id, updatedBy=user_id, assignedById=user_id
    )
    if type_id == 2:
        today = datetime.fromtimestamp(int(now), store.zone).date()
        # protocol §9.2: a deal's close date defaults to creation + 7 days
        record.update(begindate=today.isoformat(), closedate=(today + timedelta(days=7)).isoformat())
    record.update({key: value for key, value in changes.values.items() if key in fields})
    if type_id == 2 and record["categoryId"] and record["stageId"] == "NEW":
        record["stageId"] = f"C{record['categoryId']}:NEW"
    if type_id >= FIRST_SMART_PROCESS and "stageId" not in changes.values:
        # a smart-process item starts in the first stage of its pipeline
        record["stageId"] = f"DT{type_id}_{record['categoryId']}:NEW"
    record_id = store.next_id(f"crm:{type_id}")
    record["id"] = record_id
    if "title" in fields and _empty(record.get("title")):
        record["title"] = f"{type_title(store, type_id)} #{record_id}"
    store.crm[type_id][record_id] = record
    _apply_fm(store, record, changes.fm)
    _apply_links(store, type_id, record, changes)
    _derive(record, None, user_id, stamp)
    _history(store, type_id, record, None, stamp)
    return record


def _history(
    store: Store, type_id: int, record: dict[str, Any], before: dict[str, Any] | None, stamp: str
) -> None:
    """A row of crm.stagehistory.list when a lead, deal or smart-process item is created or moves."""
    if "stageId" not in record or (type_id not in (1, 2) and type_id < FIRST_SMART_PROCESS):
        return
    if before is not None and before.get("stageId") == record["stageId"]:
        return
    store.extras.stage_history.append(
        {
            "id": store.next_id("stagehistory"),
            "entityTypeId": type_id,
            "typeId": 1 if before is None else 2,
            "ownerId": record["id"],
            "createdTime": stamp,
            "categoryId": record.get("categoryId"),
            "stageId": record["stageId"],
            "semantics": stage_semantics(record["stageId"]),
        }
    )


# the stage codes (after "C2:" or "DT128_1:") of the success and failure groups of a pipeline
_SUCCESS = frozenset({"WON", "CONVERTED", "SUCCESS"})
_FAILURE = frozenset({"LOSE", "APOLOGY", "JUNK", "FAIL"})


def stage_semantics(stage: object) -> str:
    """``S`` (success), ``F`` (failure) or ``P`` (in progress) for a stage id."""
    code = str(stage or "").rsplit(":", 1)[-1]
    return "S" if code in _SUCCESS else "F" if code in _FAILURE else "P"


def _derive(record: dict[str, Any], before: dict[str, Any] | None, user_id: int, stamp: str) -> None:
    """Fields the portal keeps itself: the stage group, a deal's new and closed flags, who moved
    the record to its stage and when (protocol §9.2)."""
    if "stageId" not in record:
        return
    stage = record["stageId"]
    if "stageSemanticId" in record:
        record["stageSemanticId"] = stage_semantics(stage)
    if "isNew" in record:
        record["isNew"] = "Y" if str(stage or "").rsplit(":", 1)[-1] == "NEW" else "N"
    if before is None or before.get("stageId") != stage:
        if "closed" in record:
            record["closed"] = "Y" if stage_semantics(stage) != "P" else "N"
        if "movedTime" in record:
            record.update(movedTime=stamp, movedBy=user_id)
        if before is not None and "previousStageId" in record:
            record["previousStageId"] = before.get("stageId")


def update(
    store: Store, type_id: int, record: dict[str, Any], changes: Changes, user_id: int, now: float
) -> None:
    """Change the given fields of a record (others stay), apply multifield operations and links."""
    fields = by_camel(store, type_id)
    for name in store.required[type_id]:
        if name in changes.values and _empty(changes.values[name]) and name in fields:
            raise FieldProblem("required", fields[name])
    before = copy.deepcopy(record)
    record.update({key: value for key, value in changes.values.items() if key in fields})
    _apply_fm(store, record, changes.fm)
    _apply_links(store, type_id, record, changes)
    # protocol §9.2: when nothing changed the save is skipped, so the modification stamp stays
    if record != before:
        stamp = store.iso(now)
        _derive(record, before, user_id, stamp)
        _history(store, type_id, record, before, stamp)
        record.update(updatedTime=stamp, updatedBy=user_id)


def delete(store: Store, type_id: int, record_id: int) -> None:
    """Remove a record, its product rows and every link to or from it."""
    del store.crm[type_id][record_id]
    store.extras.product_rows.pop(f"{type_id}:{record_id}", None)
    if type_id in _LINKS:
        _table(store, type_id).pop(record_id, None)
    for owner_type, linked_type in _LINKED.items():
        if linked_type != type_id:
            continue
        for owner_id, links in list(_table(store, owner_type).items()):  # set_links may drop an entry
            if any(link["id"] == record_id for link in links):
                set_links(store, owner_type, owner_id, [link for link in links if link["id"] != record_id])


def _apply_fm(store: Store, record: dict[str, Any], ops: list[FmOp]) -> None:
    if "fm" not in record:
        return
    entries: list[dict[str, Any]] = record["fm"]
    for op in ops:
        if op.op == "add":
            if op.value != "":
                entries.append(
                    {
                        "id": store.next_id("fm"),
                        "typeId": op.type_id,
                        "valueType": op.value_type,
                        "value": op.value,
                    }
                )
            continue
        index = next((i for i, entry in enumerate(entries) if entry["id"] == op.entry_id), None)
        if index is None:
            continue
        if op.op == "delete" or op.value == "":
            del entries[index]
        else:
            entries[index].update(value=op.value, valueType=op.value_type or entries[index]["valueType"])
    record["hasPhone"] = "Y" if any(entry["typeId"] == "PHONE" for entry in entries) else "N"
    record["hasEmail"] = "Y" if any(entry["typeId"] == "EMAIL" for entry in entries) else "N"


def _apply_links(store: Store, type_id: int, record: dict[str, Any], changes: Changes) -> None:
    if type_id not in _LINKS:
        return
    # links to records that do not exist are dropped, like any other unusable value of these methods
    existing = store.crm[_LINKED[type_id]]
    if changes.links is not None:
        rows = [
            {"id": linked, "sort": (i + 1) * 10, "roleId": 0, "isPrimary": "N"}
            for i, linked in enumerate(linked for linked in changes.links if linked in existing)
        ]
        set_links(store, type_id, record["id"], rows)
    if changes.primary_link is not None and changes.primary_link in existing:
        add_link(store, type_id, record["id"], changes.primary_link, None, True)


def links_of(store: Store, type_id: int, owner_id: int) -> list[dict[str, Any]]:
    """The link rows of a deal (its contacts) or a contact (its companies)."""
    return _table(store, type_id).get(owner_id, [])


def set_links(store: Store, type_id: int, owner_id: int, rows: list[dict[str, Any]]) -> None:
    """Replace the links of an owner; the first row marked primary (else the first row) is primary."""
    table = _table(store, type_id)
    unique: list[dict[str, Any]] = []
    for row in rows:
        if all(existing["id"] != row["id"] for existing in unique):
            unique.append(dict(row))
    primary = next((row for row in unique if row["isPrimary"] == "Y"), unique[0] if unique else None)
    for row in unique:
        row["isPrimary"] = "Y" if row is primary else "N"
    unique.sort(key=lambda row: row["sort"])
    if unique:
        table[owner_id] = unique
    else:
        table.pop(owner_id, None)
    _, many, one = _LINKS[type_id]
    record = store.crm[type_id][owner_id]
    record[many] = [row["id"] for row in unique]
    record[one] = primary["id"] if primary else None


def add_link(
    store: Store, type_id: int, owner_id: int, linked_id: int, sort: int | None, primary: bool
) -> bool:
    """Link one more record; False when already linked (protocol §9.4: the first link is primary)."""
    rows = [dict(row) for row in links_of(store, type_id, owner_id)]
    existing = next((row for row in rows if row["id"] == linked_id), None)
    if existing is not None:
        if primary and existing["isPrimary"] != "Y":
            for row in rows:
                row["isPrimary"] = "Y" if row is existing else "N"
            set_links(store, type_id, owner_id, rows)
        return False
    if primary:
        for row in rows:
            row["isPrimary"] = "N"
    next_sort = sort if sort is not None else max((row["sort"] for row in rows), default=0) + 10
    rows.append({"id": linked_id, "sort": next_sort, "roleId": 0, "isPrimary": "Y" if primary else "N"})
    set_links(store, type_id, owner_id, rows)
    return True
