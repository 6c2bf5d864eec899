"""``crm.item.import`` and ``crm.item.batchImport``: creating CRM items as an import (protocol §9.8b).

An import creates the record ``crm.item.add`` would, with three differences: the answer holds only
the new id, an administrator may set the system fields (who created and changed the record and
when, under the monotonic rules of §9.8b), and automation rules and workflows do not run (the
emulator runs none for any method, so there is nothing to leave out). ``batchImport`` takes up to
20 field sets; each element succeeds or fails on its own, and a failed one is an error entry in
``items`` while the others are still created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import dates
from ..store import Store
from ..tables import Table
from . import crm_records
from .base import Context, Handler, MethodError, Reply
from .crm_fields import CrmField, by_camel
from .crm_item import _changes, _entity_type, _field_spec, _required_error
from .crm_records import FieldProblem
from .params import as_list, as_map, param, to_int

MAX_IMPORT = 20
"""protocol §9.8b: at most 20 elements per ``crm.item.batchImport``."""

_TIMES = ("createdTime", "updatedTime", "movedTime")
_USERS = ("createdBy", "updatedBy", "movedBy")


def _invalid(spec: CrmField | str) -> MethodError:
    title = spec.title if isinstance(spec, CrmField) else spec
    return MethodError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f'The field "{title}" has an invalid value.')


def _system_fields(store: Store, type_id: int, fields: Mapping[str, Any]) -> dict[str, tuple[CrmField, Any]]:
    """The system fields an import may set that this entity has, by camelCase name, as given."""
    specs = by_camel(store, type_id)
    given: dict[str, tuple[CrmField, Any]] = {}
    for key, value in fields.items():
        spec = _field_spec(specs, key)
        if spec is not None and spec.camel in (*_TIMES, *_USERS) and value not in (None, ""):
            given[spec.camel] = (spec, value)
    return given


def _latest_created(store: Store, table: Mapping[int, dict[str, Any]]) -> float | None:
    """The newest creation time of the stored records (that of the last id: it is monotonic)."""
    if not table:
        return None
    # a plain table is walked whole; a Table's last id holds the newest
    records = [table[table.ordered_ids()[-1]]] if isinstance(table, Table) else list(table.values())
    stamps = [dates.parse_datetime(str(r.get("createdTime") or ""), store.zone) for r in records]
    known = [stamp for stamp in stamps if stamp is not None]
    return max(known) if known else None


def _stamps(
    store: Store, type_id: int, given: dict[str, tuple[CrmField, Any]], now: float
) -> dict[str, float]:
    """The system times of a new record after the §9.8b rules, as unix times; MethodError if broken."""
    moments: dict[str, float] = {}
    for name in _TIMES:
        if name not in given:
            continue
        spec, raw = given[name]
        moment = dates.parse_datetime(raw, store.zone) if isinstance(raw, str) else None
        if moment is None:
            raise _invalid(spec)
        moments[name] = float(int(moment))
    created = moments.get("createdTime", float(int(now)))
    # not documented: an updatedTime not given is the creation time (the record was never changed)
    updated = moments.get("updatedTime", created)
    latest = _latest_created(store, store.crm[type_id])
    if "createdTime" in moments and (created > now or (latest is not None and created < latest)):
        # protocol §9.8b: no record earlier than an existing one, none in the future
        raise _invalid(given["createdTime"][0])
    if "updatedTime" in moments and (updated > now or updated < created):
        raise _invalid(given["updatedTime"][0])
    if "movedTime" in moments and not created <= moments["movedTime"] <= updated:
        raise _invalid(given["movedTime"][0])
    return {
        "createdTime": created,
        "updatedTime": updated,
        **({"movedTime": m} if (m := moments.get("movedTime")) else {}),
    }


def _users(store: Store, given: dict[str, tuple[CrmField, Any]]) -> dict[str, int]:
    users: dict[str, int] = {}
    for name in _USERS:
        if name in given:
            spec, raw = given[name]
            user_id = to_int(raw)
            if user_id is None or user_id not in store.users:
                raise _invalid(spec)
            users[name] = user_id
    return users


def import_one(ctx: Context, store: Store, type_id: int, fields: Any) -> int:
    """Create one record as an import; its id, or MethodError for this element."""
    mapping = as_map(fields) if fields not in (None, "") else None
    if mapping is None:
        raise MethodError("100", "Could not find value for parameter {fields}")
    changes = _changes(store, type_id, {"fields": mapping}, updating=False)
    given = _system_fields(store, type_id, mapping)
    if given and not store.users.get(ctx.user_id, {}).get("ADMIN"):
        # protocol §9.8b: only an administrator may set the system fields
        raise _invalid(next(iter(given.values()))[0])
    now = ctx.now()
    stamps = _stamps(store, type_id, given, now) if given else {}
    users = _users(store, given)
    try:
        record = crm_records.create(store, type_id, changes, ctx.user_id, stamps.get("createdTime", now))
    except FieldProblem as problem:
        raise _required_error(problem) from None
    fields_of_type = by_camel(store, type_id)
    if stamps:
        record["updatedTime"] = store.iso(stamps["updatedTime"])
        if "movedTime" in stamps and "movedTime" in fields_of_type:
            record["movedTime"] = store.iso(stamps["movedTime"])
    record.update({name: user_id for name, user_id in users.items() if name in fields_of_type})
    record_id: int = record["id"]
    return record_id


def item_import(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.import -> ``{"item": {"id": N}}``."""
    store: Store = ctx.store
    type_id = _entity_type(params, store)
    return Reply({"item": {"id": import_one(ctx, store, type_id, param(params, "fields"))}})


def item_batch_import(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.batchImport -> ``{"items": [{"item": {"id": N}} | {"error", "error_description"}]}``."""
    store: Store = ctx.store
    type_id = _entity_type(params, store)
    raw = param(params, "data")
    elements = as_list(raw) if raw not in (None, "") else None
    if elements is None:
        raise MethodError("100", "Could not find value for parameter {data}")
    if len(elements) > MAX_IMPORT:
        raise MethodError("MAX_IMPORT_BATCH_SIZE_EXCEEDED", f"You cannot import more than {MAX_IMPORT} items")
    items: list[dict[str, Any]] = []
    for element in elements:
        try:
            items.append({"item": {"id": import_one(ctx, store, type_id, element)}})
        except MethodError as error:
            # protocol §9.8b: a failed element is an error entry; the others are still created
            items.append({"error": error.code, "error_description": error.description})
    return Reply({"items": items})


HANDLERS: dict[str, Handler] = {
    "crm.item.import": item_import,
    "crm.item.batchImport": item_batch_import,
}
