"""Editing the status lists: ``crm.status.add/get/update/delete/fields`` and ``crm.status.entity.*``.

Stock rows can be renamed, re-sorted or (unless they are system rows) deleted; added rows get the
next id. Stage lists of pipelines come from ``crm.category.add`` and ``crm.type.add``.
"""

from __future__ import annotations

from typing import Any

from ..store import Store
from .base import Context, Handler, MethodError, Reply
from .crm_fields import CrmField, describe
from .params import as_map, param, to_int
from .statuses import all_rows

_EDITABLE = ("NAME", "SORT", "COLOR", "SEMANTICS")
_STOCK_ENTITIES = (
    ("STATUS", "Lead stages", 1, ("NEW", "CONVERTED", "JUNK")),
    ("SOURCE", "Sources", None, None),
    ("CONTACT_TYPE", "Contact type", None, None),
    ("COMPANY_TYPE", "Company type", None, None),
    ("EMPLOYEES", "Number of employees", None, None),
    ("INDUSTRY", "Industry", None, None),
    ("DEAL_TYPE", "Deal type", None, None),
    ("DEAL_STAGE", "Deal stages", 2, ("NEW", "WON", "LOSE")),
    ("HONORIFIC", "Salutations", None, None),
)


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _row(store: Store, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    row_id = to_int(param(params, "id"))
    if row_id is None or row_id <= 0:
        raise MethodError("", "ID is not defined or invalid.")
    row = all_rows(store).get(row_id)
    if row is None:
        raise MethodError("", "Not found")
    return row_id, row


def _fields(params: dict[str, Any]) -> dict[str, Any]:
    raw = param(params, "fields")
    mapping = as_map(raw) if raw not in (None, "") else None
    if mapping is None:
        raise MethodError("", "Parameter 'fields' must be array.")
    return {str(key).upper(): value for key, value in mapping.items()}


def status_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.add -> the new row's id (an int)."""
    store = _store(ctx)
    fields = _fields(params)
    entity, code, name = (str(fields.get(key) or "") for key in ("ENTITY_ID", "STATUS_ID", "NAME"))
    if not entity or not code or not name:
        raise MethodError("", "The fields ENTITY_ID, STATUS_ID and NAME are required.")
    if any(row["ENTITY_ID"] == entity and row["STATUS_ID"] == code for row in all_rows(store).values()):
        raise MethodError("", f"The status {code} already exists in {entity}.")
    row_id = store.next_id("status") + 1000
    sort = to_int(fields.get("SORT"))
    store.extras.statuses[row_id] = {
        "ID": str(row_id),
        "ENTITY_ID": entity,
        "STATUS_ID": code,
        "NAME": name,
        "NAME_INIT": "",
        "SORT": str(sort if sort is not None else 10),
        "SYSTEM": "N",
        "CATEGORY_ID": None,
        "COLOR": fields.get("COLOR"),
        "SEMANTICS": fields.get("SEMANTICS"),
    }
    return Reply(row_id)


def status_get(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.get -> the row."""
    return Reply(dict(_row(_store(ctx), params)[1]))


def status_update(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.update -> ``true``; only the name, sort, color and semantics change."""
    store = _store(ctx)
    row_id, row = _row(store, params)
    changed = dict(row)
    for key, value in _fields(params).items():
        if key in _EDITABLE:
            changed[key] = str(value) if key in ("NAME", "SORT") else value
    store.extras.statuses[row_id] = changed
    return Reply(True)


def status_delete(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.delete -> ``true``; system rows stay unless ``params.FORCED`` is ``Y``."""
    store = _store(ctx)
    row_id, row = _row(store, params)
    options = as_map(param(params, "params")) or {}
    forced = str(options.get("FORCED") or options.get("forced") or "").upper() == "Y"
    if row["SYSTEM"] == "Y" and not forced:
        raise MethodError("", "Can't delete system status")
    store.extras.statuses[row_id] = None
    return Reply(True)


_FIELDS = (
    CrmField("ID", "ID", "integer", "ID", read_only=True),
    CrmField("ENTITY_ID", "ENTITY_ID", "string", "Entity", immutable=True),
    CrmField("STATUS_ID", "STATUS_ID", "string", "Status", immutable=True),
    CrmField("SORT", "SORT", "integer", "Sort"),
    CrmField("NAME", "NAME", "string", "Name"),
    CrmField("NAME_INIT", "NAME_INIT", "string", "Default name", read_only=True),
    CrmField("SYSTEM", "SYSTEM", "char", "System", read_only=True),
    CrmField("CATEGORY_ID", "CATEGORY_ID", "integer", "Pipeline", read_only=True),
    CrmField("COLOR", "COLOR", "string", "Color"),
    CrmField("SEMANTICS", "SEMANTICS", "string", "Semantics", read_only=True),
    CrmField("EXTRA", "EXTRA", "crm_status_extra", "Extra", read_only=True),
)


def status_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.fields -> the field map (UPPER names, no wrapper)."""
    required = {"ENTITY_ID", "STATUS_ID", "NAME"}
    return Reply({spec.upper: describe(spec, spec.upper in required, False) for spec in _FIELDS})


def entity_types(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.entity.types -> the status lists: stock ones, then every pipeline's stages."""
    store = _store(ctx)
    found: list[dict[str, Any]] = []
    for entity, name, type_id, semantic in _STOCK_ENTITIES:
        entry: dict[str, Any] = {"ID": entity, "NAME": name}
        if semantic is not None:
            start, success, failure = semantic
            entry["SEMANTIC_INFO"] = {
                "START_FIELD": start,
                "FINAL_SUCCESS_FIELD": success,
                "FINAL_UNSUCCESS_FIELD": failure,
                "FINAL_SORT": 0,
            }
            entry["ENTITY_TYPE_ID"] = type_id
        found.append(entry)
    for type_id, categories in sorted(store.extras.categories.items()):
        for category in categories.values():
            smart = type_id != 2
            entity = f"DYNAMIC_{type_id}_STAGE_{category['id']}" if smart else f"DEAL_STAGE_{category['id']}"
            found.append(
                {
                    "ID": entity,
                    "NAME": f"Stages of {category['name']}",
                    "SEMANTIC_INFO": [],
                    "PREFIX": f"DT{type_id}_{category['id']}" if smart else f"C{category['id']}",
                    "FIELD_ATTRIBUTE_SCOPE": f"category_{category['id']}",
                    "ENTITY_TYPE_ID": type_id,
                    "IS_ENABLED": True,
                    "CATEGORY_ID": category["id"],
                }
            )
    return Reply(found)


def entity_items(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.entity.items -> ``[{NAME, SORT, STATUS_ID}]`` of one list, SORT ascending."""
    entity = str(param(params, "entityId") or "")
    if not entity:
        raise MethodError("", "The parameter entityId is required.")
    rows = [row for row in all_rows(_store(ctx)).values() if row["ENTITY_ID"] == entity]
    rows.sort(key=lambda row: (int(row["SORT"]), int(row["ID"])))
    return Reply(
        [{"NAME": row["NAME"], "SORT": int(row["SORT"]), "STATUS_ID": row["STATUS_ID"]} for row in rows]
    )


HANDLERS: dict[str, Handler] = {
    "crm.status.add": status_add,
    "crm.status.get": status_get,
    "crm.status.update": status_update,
    "crm.status.delete": status_delete,
    "crm.status.fields": status_fields,
    "crm.status.entity.types": entity_types,
    "crm.status.entity.items": entity_items,
}
