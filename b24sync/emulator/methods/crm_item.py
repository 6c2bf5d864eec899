"""``crm.item.add/update/get/list/delete/fields`` for leads, deals, contacts, companies (protocol §9.2)."""

from __future__ import annotations

from typing import Any

from ..store import Store
from . import crm_records, lists
from .base import Context, Handler, MethodError, Reply
from .crm_fields import (
    MULTIFIELD_TYPES,
    CrmField,
    by_camel,
    coerce,
    describe,
    fields_of,
    filter_coercer,
    is_crm_type,
    item_value,
)
from .crm_records import Changes, FieldProblem, FmOp
from .params import as_list, as_map, param, required_int, start_of, to_yn

ITEM = "item"


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _entity_type(params: dict[str, Any], store: Store) -> int:
    type_id = required_int(params, "entityTypeId")
    if not is_crm_type(store, type_id):
        # protocol §9.2: an unknown entityTypeId answers NOT_FOUND with this text
        raise MethodError("NOT_FOUND", "Smart process not found")
    return type_id


def _record(store: Store, type_id: int, params: dict[str, Any]) -> dict[str, Any]:
    record = store.crm[type_id].get(required_int(params, "id"))
    if record is None:
        raise MethodError("NOT_FOUND", "Element not found")
    return record


def _original_names(params: dict[str, Any]) -> bool:
    return to_yn(param(params, "useOriginalUfNames")) == "Y"


def _name(spec: CrmField, original: bool) -> str:
    return spec.upper if original and spec.dynamic else spec.camel


def render(
    store: Store, type_id: int, record: dict[str, Any], original: bool, names: set[str] | None = None
) -> dict[str, Any]:
    """A stored record as ``crm.item`` returns it; ``names`` limits the fields (``id`` always kept)."""
    item: dict[str, Any] = {}
    for spec in fields_of(store, type_id, ITEM):
        if names is not None and spec.camel not in names and spec.camel != "id":
            continue
        if spec.camel == "fm":
            item["fm"] = [
                {
                    "id": entry["id"],
                    "valueType": entry["valueType"],
                    "value": entry["value"],
                    "typeId": entry["typeId"],
                }
                for entry in record.get("fm", [])
            ]
            continue
        item[_name(spec, original)] = item_value(spec, record.get(spec.camel), store.zone)
    if names is None:
        item["entityTypeId"] = type_id
    return item


def _field_spec(fields: dict[str, CrmField], key: str) -> CrmField | None:
    # the Engine layer converts names to UPPER_CASE itself, so `>ID` works as well as `>id`
    spec = fields.get(key)
    if spec is None:
        spec = next((candidate for candidate in fields.values() if candidate.upper == key), None)
    return spec


def _fm_ops(raw: Any, updating: bool) -> list[FmOp]:
    # protocol §9.5: an array appends, an object keys n0.. to add and ids to change, a string is ignored
    mapping = as_map(raw)
    if mapping is None:
        return []
    listed = isinstance(raw, list) or list(mapping) == [str(i) for i in range(len(mapping))]
    ops: list[FmOp] = []
    for key, entry in mapping.items():
        values = as_map(entry)
        if values is None:
            continue
        type_id = str(values.get("typeId") or "").upper()
        raw_value = values.get("value")
        if type_id not in MULTIFIELD_TYPES or isinstance(raw_value, (dict, list)):
            continue
        value = "" if raw_value is None else str(raw_value)
        value_type = str(values.get("valueType") or "WORK").upper()
        existing = key.isdigit() and updating and not listed
        if existing:
            ops.append(FmOp("set", type_id, value_type, value, int(key)))
        else:
            ops.append(FmOp("add", type_id, value_type, value))
    return ops


def _changes(store: Store, type_id: int, params: dict[str, Any], updating: bool) -> Changes:
    raw = param(params, "fields")
    mapping = as_map(raw) if raw not in (None, "") else None
    if mapping is None:
        raise MethodError("100", "Could not find value for parameter {fields}")
    fields = by_camel(store, type_id, ITEM)
    values: dict[str, Any] = {}
    fm: list[FmOp] = []
    for key, value in mapping.items():
        spec = _field_spec(fields, key)
        # protocol §9.2: unknown fields in crm.item.add are ignored silently, read-only ones too
        if spec is None or spec.read_only:
            continue
        if spec.camel == "fm":
            fm = _fm_ops(value, updating)
            continue
        try:
            if spec.multiple:
                items = as_list(value)
                if items is None and value not in (None, ""):
                    raise MethodError("100", f'Expected iterable value for multiple field "{spec.title}"')
                values[spec.camel] = [coerce(spec, item, store.zone) for item in items or []]
            else:
                values[spec.camel] = coerce(spec, value, store.zone)
        except ValueError:
            raise MethodError(
                "CRM_FIELD_ERROR_VALUE_NOT_VALID", f'The field "{spec.title}" has an invalid value.'
            ) from None
    return crm_records.changes_of(type_id, values, fm)


def _required_error(problem: FieldProblem) -> MethodError:
    return MethodError("CRM_FIELD_ERROR_REQUIRED", f'The field "{problem.field.title}" is required.')


def item_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.add -> ``{"item": {...}}``."""
    store = _store(ctx)
    type_id = _entity_type(params, store)
    changes = _changes(store, type_id, params, updating=False)
    try:
        record = crm_records.create(store, type_id, changes, ctx.user_id, ctx.now())
    except FieldProblem as problem:
        raise _required_error(problem) from None
    return Reply({"item": render(store, type_id, record, _original_names(params))})


def item_update(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.update -> ``{"item": {...}}`` with every field after the change."""
    store = _store(ctx)
    type_id = _entity_type(params, store)
    record = _record(store, type_id, params)
    changes = _changes(store, type_id, params, updating=True)
    try:
        crm_records.update(store, type_id, record, changes, ctx.user_id, ctx.now())
    except FieldProblem as problem:
        raise _required_error(problem) from None
    return Reply({"item": render(store, type_id, record, _original_names(params))})


def item_get(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.get -> ``{"item": {...}}``; NOT_FOUND "Element not found" when missing."""
    store = _store(ctx)
    type_id = _entity_type(params, store)
    return Reply({"item": render(store, type_id, _record(store, type_id, params), _original_names(params))})


def item_delete(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.delete -> ``[]`` (protocol U12)."""
    store = _store(ctx)
    type_id = _entity_type(params, store)
    record = _record(store, type_id, params)
    crm_records.delete(store, type_id, record["id"])
    return Reply([])


def _resolver(store: Store, type_id: int) -> lists.Resolver:
    fields = {name: spec for name, spec in by_camel(store, type_id, ITEM).items() if name != "fm"}

    def resolve(name: str) -> tuple[str, lists.Coerce] | None:
        spec = _field_spec(fields, name)
        return None if spec is None else (spec.camel, filter_coercer(spec, store.zone))

    return resolve


def _select(store: Store, type_id: int, raw: Any) -> set[str] | None:
    names = as_list(raw) if raw not in (None, "") else ["*"]
    if names is None:
        names = [raw]
    wanted = [str(name) for name in names]
    if "*" in wanted:
        return None
    fields = by_camel(store, type_id, ITEM)
    chosen = {spec.camel for name in wanted if (spec := _field_spec(fields, name)) is not None}
    if "ufCrm*" in wanted or "UF_*" in wanted:
        chosen.update(spec.camel for spec in fields.values() if spec.dynamic)
    chosen.discard("fm")  # protocol §9.2: fm only via "*"
    return chosen


def item_list(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.list -> ``{"items": [...]}`` with total/next; exact offsets (protocol §8.1)."""
    store = _store(ctx)
    type_id = _entity_type(params, store)
    resolve = _resolver(store, type_id)
    where = lists.parse_filter(param(params, "filter"), resolve, strict=True)
    order = lists.parse_order(param(params, "order"), resolve, strict=True)
    names = _select(store, type_id, param(params, "select"))
    page = lists.select_page(
        store.crm[type_id],
        where,
        order,
        start_of(params),
        "exact",
        lists.field_value,
        "id",
    )
    original = _original_names(params)
    items = [render(store, type_id, record, original, names) for record in page.rows]
    return Reply({"items": items}, total=page.total, next=page.next)


def item_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.fields -> ``{"fields": {camelName: {...}}}`` (protocol §9.9)."""
    store = _store(ctx)
    type_id = _entity_type(params, store)
    original = _original_names(params)
    required = set(store.required[type_id])
    return Reply(
        {
            "fields": {
                _name(spec, original): describe(spec, spec.camel in required, with_upper=True)
                for spec in fields_of(store, type_id, ITEM)
            }
        }
    )


HANDLERS: dict[str, Handler] = {
    "crm.item.add": item_add,
    "crm.item.update": item_update,
    "crm.item.get": item_get,
    "crm.item.list": item_list,
    "crm.item.delete": item_delete,
    "crm.item.fields": item_fields,
}
