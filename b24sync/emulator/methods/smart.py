"""Smart processes and pipelines: ``crm.type.*`` and ``crm.category.*`` (protocol §9.10).

A new type gets an entityTypeId (given: an even number from 1030 or 128-192; else the next free one
from 128), a default pipeline with five stages (``DT<type>_<category>:NEW`` ... ``:FAIL``) and its
own tables, so ``crm.item.*`` serves its items with their own fields. Deals have pipelines too:
category 0 always exists, others get ``C<id>:`` stages.
"""

from __future__ import annotations

from typing import Any

from ..store import Store
from ..tables import Table
from .base import Context, Handler, MethodError, Reply
from .crm_fields import FIRST_SMART_PROCESS, CrmField, describe, is_crm_type
from .params import as_map, param, required_int, to_int, to_yn

DEAL = 2
_FLAGS = (
    "isCategoriesEnabled",
    "isStagesEnabled",
    "isBeginCloseDatesEnabled",
    "isClientEnabled",
    "isUseInUserfieldEnabled",
    "isLinkWithProductsEnabled",
    "isMycompanyEnabled",
    "isDocumentsEnabled",
    "isSourceEnabled",
    "isObserversEnabled",
    "isRecyclebinEnabled",
    "isAutomationEnabled",
    "isBizProcEnabled",
    "isSetOpenPermissions",
    "isPaymentsEnabled",
    "isCountersEnabled",
)
_DEFAULT_ON = frozenset({"isSetOpenPermissions"})
# a new pipeline's stages: code, name, semantics (S success, F failure, None in progress)
_SMART_STAGES = (
    ("NEW", "Start", None),
    ("PREPARATION", "Preparation", None),
    ("CLIENT", "Customer approval", None),
    ("SUCCESS", "Success", "S"),
    ("FAIL", "Failure", "F"),
)
_DEAL_STAGES = (
    ("NEW", "New", None),
    ("PREPARATION", "Document creation", None),
    ("EXECUTING", "In progress", None),
    ("WON", "Deal won", "S"),
    ("LOSE", "Deal lost", "F"),
)


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _admin(store: Store, user_id: int) -> None:
    user = store.users.get(user_id)
    if user is None or not user["ADMIN"]:
        raise MethodError("ACCESS_DENIED", "Access denied")


def _fields_param(params: dict[str, Any]) -> dict[str, Any]:
    raw = param(params, "fields")
    mapping = as_map(raw) if raw not in (None, "") else None
    if mapping is None:
        raise MethodError("100", "Could not find value for parameter {fields}")
    return mapping


def _allowed_type_id(value: int) -> bool:
    return FIRST_SMART_PROCESS <= value <= 192 or (value >= 1030 and value % 2 == 0)


def _next_type_id(store: Store) -> int:
    taken = {t["entityTypeId"] for t in store.extras.types.values()}
    candidate = FIRST_SMART_PROCESS
    while candidate in taken:
        candidate += 1
    if candidate > 192:
        candidate = 1030
        while candidate in taken:
            candidate += 2
    return candidate


def add_stages(store: Store, entity_type_id: int, category_id: int) -> None:
    """The stock stages of a new pipeline, as crm.status.list rows."""
    if entity_type_id == DEAL:
        entity, prefix, stages = f"DEAL_STAGE_{category_id}", f"C{category_id}:", _DEAL_STAGES
    else:
        entity, prefix = f"DYNAMIC_{entity_type_id}_STAGE_{category_id}", f"DT{entity_type_id}_{category_id}:"
        stages = _SMART_STAGES
    for index, (code, name, semantics) in enumerate(stages):
        row_id = store.next_id("status") + 1000  # above the stock rows' ids
        store.extras.statuses[row_id] = {
            "ID": str(row_id),
            "ENTITY_ID": entity,
            "STATUS_ID": prefix + code,
            "NAME": name,
            "NAME_INIT": name,
            "SORT": str((index + 1) * 10),
            "SYSTEM": "Y" if semantics is not None or code == "NEW" else "N",
            "CATEGORY_ID": str(category_id),
            "COLOR": None,
            "SEMANTICS": semantics,
        }


def _drop_stages(store: Store, entity_prefix: str) -> None:
    for key, row in list(store.extras.statuses.items()):
        if row is not None and str(row["ENTITY_ID"]).startswith(entity_prefix):
            del store.extras.statuses[key]


def new_category(store: Store, entity_type_id: int, name: str, sort: int, default: bool) -> dict[str, Any]:
    """Add a pipeline with its stages; returns it."""
    category_id = store.next_id("category")
    rows = store.extras.categories.setdefault(entity_type_id, {})
    if default:
        for row in rows.values():
            row["isDefault"] = "N"
    row = {
        "id": category_id,
        "name": name,
        "sort": sort,
        "entityTypeId": entity_type_id,
        "isDefault": "Y" if default else "N",
        "originId": "",
        "originatorId": "",
    }
    rows[category_id] = row
    add_stages(store, entity_type_id, category_id)
    return row


# -- crm.type -------------------------------------------------------------------------------------


def type_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.type.add -> ``{"type": {...}}``; the type's tables and default pipeline are created."""
    store = _store(ctx)
    _admin(store, ctx.user_id)
    fields = _fields_param(params)
    title = str(fields.get("title") or "").strip()
    if not title:
        raise MethodError("CRM_FIELD_ERROR_REQUIRED", 'The field "Title" is required.')
    given = to_int(fields.get("entityTypeId"))
    if given is not None:
        taken = any(t["entityTypeId"] == given for t in store.extras.types.values())
        if not _allowed_type_id(given) or taken:
            raise MethodError("INVALID_ARG_VALUE", "entityTypeId is out of allowed range")
    entity_type_id = given if given is not None else _next_type_id(store)
    type_id = store.next_id("type")
    stamp = store.iso(ctx.now())
    record: dict[str, Any] = {
        "id": type_id,
        "title": title,
        "code": str(fields.get("code") or ""),
        "createdBy": ctx.user_id,
        "entityTypeId": entity_type_id,
        "customSectionId": None,
        **{flag: ("Y" if flag in _DEFAULT_ON else "N") for flag in _FLAGS},
        "createdTime": stamp,
        "updatedTime": stamp,
        "updatedBy": ctx.user_id,
    }
    record.update(_flags(fields))
    store.extras.types[type_id] = record
    store.crm[entity_type_id] = Table()  # indexed like the classic entities
    store.userfields[entity_type_id] = {}
    store.required[entity_type_id] = []
    new_category(store, entity_type_id, "General", 500, default=True)
    return Reply({"type": dict(record)})


def _flags(fields: dict[str, Any]) -> dict[str, str]:
    changed: dict[str, str] = {}
    for flag in _FLAGS:
        if flag in fields:
            value = to_yn(fields[flag])
            if value is not None:
                changed[flag] = value
    return changed


def _type(store: Store, type_id: int) -> dict[str, Any]:
    record = store.extras.types.get(type_id)
    if record is None:
        raise MethodError("NOT_FOUND", "SPA not found")
    return record


def type_get(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.type.get -> ``{"type": {...}}``."""
    return Reply({"type": dict(_type(_store(ctx), required_int(params, "id")))})


def type_get_by_entity(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.type.getByEntityTypeId -> ``{"type": {...}}``."""
    found = _store(ctx).extras.type_by_entity(required_int(params, "entityTypeId"))
    if found is None:
        raise MethodError("NOT_FOUND", "SPA not found")
    return Reply({"type": dict(found)})


def type_list(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.type.list -> ``{"types": [...]}`` in id order, 50 a page."""
    rows = [dict(t) for t in sorted(_store(ctx).extras.types.values(), key=lambda t: t["id"])]
    start = max(to_int(param(params, "start")) or 0, 0)
    page = rows[start : start + 50]
    following = start + 50 if start + 50 < len(rows) else None
    return Reply({"types": page}, total=len(rows), next=following)


def type_update(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.type.update -> ``{"type": {...}}``; entityTypeId cannot change."""
    store = _store(ctx)
    _admin(store, ctx.user_id)
    record = _type(store, required_int(params, "id"))
    fields = _fields_param(params)
    if "title" in fields and str(fields["title"]).strip():
        record["title"] = str(fields["title"]).strip()
    if "code" in fields:
        record["code"] = str(fields["code"] or "")
    record.update(_flags(fields))
    record.update(updatedTime=store.iso(ctx.now()), updatedBy=ctx.user_id)
    return Reply({"type": dict(record)})


def type_delete(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.type.delete -> ``[]``; refused while the type has items."""
    store = _store(ctx)
    _admin(store, ctx.user_id)
    record = _type(store, required_int(params, "id"))
    entity_type_id = record["entityTypeId"]
    if store.crm.get(entity_type_id):
        raise MethodError("CRM_TYPE_HAS_ITEMS", "The SPA has items and cannot be deleted")
    del store.extras.types[record["id"]]
    for table in (store.crm, store.userfields, store.required, store.extras.categories):
        table.pop(entity_type_id, None)
    _drop_stages(store, f"DYNAMIC_{entity_type_id}_STAGE_")
    return Reply([])


_TYPE_FIELDS = (
    CrmField("id", "ID", "integer", "ID", read_only=True),
    CrmField("title", "TITLE", "string", "Title"),
    CrmField("code", "CODE", "string", "Symbolic code"),
    CrmField("createdBy", "CREATED_BY", "user", "Created by", read_only=True),
    CrmField("entityTypeId", "ENTITY_TYPE_ID", "integer", "Entity type ID", immutable=True),
    CrmField("customSectionId", "CUSTOM_SECTION_ID", "integer", "Digital workplace"),
    *(
        CrmField(flag, "".join(f"_{c}" if c.isupper() else c.upper() for c in flag), "boolean", flag)
        for flag in _FLAGS
    ),
    CrmField("createdTime", "CREATED_TIME", "datetime", "Created on", read_only=True),
    CrmField("updatedTime", "UPDATED_TIME", "datetime", "Modified on", read_only=True),
    CrmField("updatedBy", "UPDATED_BY", "user", "Modified by", read_only=True),
)


def type_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.type.fields -> ``{"fields": {...}}``."""
    return Reply(
        {"fields": {spec.camel: describe(spec, spec.camel == "title", True) for spec in _TYPE_FIELDS}}
    )


# -- crm.category ---------------------------------------------------------------------------------


def _category_type(store: Store, params: dict[str, Any]) -> int:
    entity_type_id = required_int(params, "entityTypeId")
    if not is_crm_type(store, entity_type_id):
        raise MethodError("NOT_FOUND", "SPA not found")
    if entity_type_id != DEAL and entity_type_id < FIRST_SMART_PROCESS:
        raise MethodError("ENTITY_TYPE_NOT_SUPPORTED", "Entity type is not supported")
    return entity_type_id


def categories(store: Store, entity_type_id: int) -> list[dict[str, Any]]:
    """The pipelines of a type, deals' category 0 included, by sort then id."""
    rows = [dict(row) for row in store.extras.categories.get(entity_type_id, {}).values()]
    if entity_type_id == DEAL:
        default = not any(row["isDefault"] == "Y" for row in rows)
        rows.append(
            {
                "id": 0,
                "name": "General",
                "sort": 300,
                "entityTypeId": DEAL,
                "isDefault": "Y" if default else "N",
            }
        )
    return sorted(rows, key=lambda row: (row["sort"], row["id"]))


def category_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.category.add -> ``{"category": {...}}`` with the pipeline's stock stages."""
    store = _store(ctx)
    entity_type_id = _category_type(store, params)
    fields = _fields_param(params)
    sort = to_int(fields.get("sort"))
    row = new_category(
        store,
        entity_type_id,
        str(fields.get("name") or ""),
        sort if sort is not None else 500,
        to_yn(fields.get("isDefault")) == "Y",
    )
    return Reply({"category": dict(row)})


def _category(store: Store, entity_type_id: int, params: dict[str, Any]) -> dict[str, Any]:
    category_id = required_int(params, "id")
    row = next((row for row in categories(store, entity_type_id) if row["id"] == category_id), None)
    if row is None:
        raise MethodError("NOT_FOUND", "Category not found")
    return row


def category_get(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.category.get -> ``{"category": {...}}``."""
    store = _store(ctx)
    return Reply({"category": _category(store, _category_type(store, params), params)})


def category_list(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.category.list -> ``{"categories": [...]}``."""
    store = _store(ctx)
    rows = categories(store, _category_type(store, params))
    return Reply({"categories": rows}, total=len(rows))


def category_update(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.category.update -> ``{"category": {...}}``."""
    store = _store(ctx)
    entity_type_id = _category_type(store, params)
    found = _category(store, entity_type_id, params)
    stored = store.extras.categories.get(entity_type_id, {}).get(found["id"])
    if stored is None:
        raise MethodError("ACCESS_DENIED", "The default pipeline of deals cannot be changed here")
    fields = _fields_param(params)
    if "name" in fields:
        stored["name"] = str(fields["name"] or "")
    if to_int(fields.get("sort")) is not None:
        stored["sort"] = to_int(fields.get("sort"))
    for key in ("originId", "originatorId"):
        if key in fields:
            stored[key] = str(fields[key] or "")
    return Reply({"category": dict(stored)})


def category_delete(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.category.delete -> ``null``; the default pipeline and one with items stay."""
    store = _store(ctx)
    entity_type_id = _category_type(store, params)
    found = _category(store, entity_type_id, params)
    if found["isDefault"] == "Y" or found["id"] not in store.extras.categories.get(entity_type_id, {}):
        raise MethodError("DELETE_DEFAULT_CATEGORY", "The default pipeline cannot be deleted")
    if any(record.get("categoryId") == found["id"] for record in store.crm[entity_type_id].values()):
        raise MethodError("CATEGORY_HAS_ITEMS", "The pipeline has items and cannot be deleted")
    del store.extras.categories[entity_type_id][found["id"]]
    prefix = (
        f"DEAL_STAGE_{found['id']}"
        if entity_type_id == DEAL
        else f"DYNAMIC_{entity_type_id}_STAGE_{found['id']}"
    )
    _drop_stages(store, prefix)
    return Reply(None)


_CATEGORY_FIELDS = (
    CrmField("id", "ID", "integer", "ID", read_only=True),
    CrmField("name", "NAME", "string", "NAME"),
    CrmField("sort", "SORT", "integer", "SORT"),
    CrmField("entityTypeId", "ENTITY_TYPE_ID", "integer", "ENTITY_TYPE_ID", read_only=True),
    CrmField("isDefault", "IS_DEFAULT", "boolean", "IS_DEFAULT"),
    CrmField("originId", "ORIGIN_ID", "string", "ORIGIN_ID"),
    CrmField("originatorId", "ORIGINATOR_ID", "string", "ORIGINATOR_ID"),
)


def category_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.category.fields -> ``{"fields": {...}}``."""
    _category_type(_store(ctx), params)
    return Reply(
        {
            "fields": {
                spec.camel: describe(spec, spec.camel == "entityTypeId", True) for spec in _CATEGORY_FIELDS
            }
        }
    )


HANDLERS: dict[str, Handler] = {
    "crm.type.add": type_add,
    "crm.type.get": type_get,
    "crm.type.getByEntityTypeId": type_get_by_entity,
    "crm.type.list": type_list,
    "crm.type.update": type_update,
    "crm.type.delete": type_delete,
    "crm.type.fields": type_fields,
    "crm.category.add": category_add,
    "crm.category.get": category_get,
    "crm.category.list": category_list,
    "crm.category.update": category_update,
    "crm.category.delete": category_delete,
    "crm.category.fields": category_fields,
}
