"""The old ``crm.lead|deal|contact|company.add/update/get/list/delete/fields`` (protocol §9.3, §9.5).

UPPER_CASE names, string ids, a bare int from add, ``true`` from update and delete, a plain array
from list with legacy ``start`` rounding; failures carry ``error: ""`` and the portal's texts. They
read and write the same tables as ``crm.item.*``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..store import Store
from . import crm_records, lists
from .base import Context, Handler, MethodError, Reply
from .crm_fields import (
    LEGACY_MULTIFIELDS,
    MULTIFIELD_TYPES,
    TYPE_NAMES,
    by_upper,
    coerce,
    describe,
    fields_of,
    filter_coercer,
    legacy_value,
)
from .crm_records import FieldProblem, FmOp
from .params import as_list, as_map, param, start_of, to_int, to_yn

ENTITIES = {"lead": 1, "deal": 2, "contact": 3, "company": 4}
LEGACY = "legacy"
# protocol §9.3: COMPANY_IDS is write-only on contacts, CONTACT_IDS not readable on deals
_WRITE_ONLY = frozenset({"FM", "COMPANY_IDS", "CONTACT_IDS"})


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _has_multifields(type_id: int) -> bool:
    return type_id != 2


def _id(params: dict[str, Any]) -> int:
    number = to_int(param(params, "id"))
    if number is None or number <= 0:
        raise MethodError("", "ID is not defined or invalid.")
    return number


def _fm_ops(type_name: str, raw: Any, updating: bool) -> list[FmOp]:
    # protocol §9.5: no ID appends; ID with a value changes; DELETE=Y, an empty VALUE or no VALUE deletes
    mapping = as_map(raw)
    if mapping is None:
        return []
    ops: list[FmOp] = []
    for key, entry in mapping.items():
        values = {str(k).upper(): v for k, v in (as_map(entry) or {}).items()}
        if not values or isinstance(values.get("VALUE"), (dict, list)):
            continue
        entry_id = to_int(values.get("ID")) if updating else None
        if (
            entry_id is None
            and updating
            and key.isdigit()
            and not isinstance(raw, list)
            and list(mapping) != [str(i) for i in range(len(mapping))]
        ):
            entry_id = int(key)
        value = "" if values.get("VALUE") is None else str(values["VALUE"])
        value_type = str(values.get("VALUE_TYPE") or "WORK").upper()
        if entry_id is None:
            ops.append(FmOp("add", type_name, value_type, value))
        elif to_yn(values.get("DELETE")) == "Y" or "VALUE" not in values:
            ops.append(FmOp("delete", type_name, entry_id=entry_id))
        else:
            ops.append(FmOp("set", type_name, value_type, value, entry_id))
    return ops


def _changes(store: Store, type_id: int, params: dict[str, Any], updating: bool) -> crm_records.Changes:
    raw = param(params, "fields", "arFields")
    mapping = as_map(raw) if raw is not None else None
    if mapping is None:
        raise MethodError("", "Parameter 'fields' must be array.")
    fields = by_upper(store, type_id, LEGACY)
    values: dict[str, Any] = {}
    fm: list[FmOp] = []
    for key, value in mapping.items():
        name = key.upper()
        if name in MULTIFIELD_TYPES and _has_multifields(type_id):
            fm.extend(_fm_ops(name, value, updating))
            continue
        spec = fields.get(name)
        # protocol §9.3: unknown and read-only fields are dropped silently
        if spec is None or spec.read_only or name == "FM":
            continue
        try:
            if spec.multiple:
                items = as_list(value)
                items = items if items is not None else [value]
                items = [item for item in items if item not in ("", None)]
                values[spec.camel] = [coerce(spec, item, store.zone) for item in items]
            else:
                values[spec.camel] = coerce(spec, value, store.zone)
        except ValueError:
            raise MethodError("", f'The field "{spec.title}" has an invalid value.') from None
    return crm_records.changes_of(type_id, values, fm)


def _multifields_out(record: dict[str, Any], type_name: str) -> list[dict[str, Any]]:
    return [
        {
            "ID": str(entry["id"]),
            "VALUE_TYPE": entry["valueType"],
            "VALUE": entry["value"],
            "TYPE_ID": entry["typeId"],
        }
        for entry in record.get("fm", [])
        if entry["typeId"] == type_name
    ]


def render(
    store: Store, type_id: int, record: dict[str, Any], names: set[str] | None = None
) -> dict[str, Any]:
    """A stored record as the old methods return it; ``names`` (UPPER) limits the fields."""
    out: dict[str, Any] = {}
    for spec in fields_of(store, type_id, LEGACY):
        if spec.upper in _WRITE_ONLY or (names is not None and spec.upper not in names):
            continue
        out[spec.upper] = legacy_value(spec, record.get(spec.camel), store.zone)
    for type_name in MULTIFIELD_TYPES:
        # protocol §9.5: the key is absent when there are no values of that type
        entries = _multifields_out(record, type_name)
        if entries and (names is None or type_name in names):
            out[type_name] = entries
    return out


def _select(store: Store, type_id: int, raw: Any) -> set[str] | None:
    names = as_list(raw) if raw not in (None, "") else None
    if names is None:
        names = ["*", "UF_*"] if raw in (None, "") else [raw]
    wanted = {str(name).upper() for name in names}
    fields = fields_of(store, type_id, LEGACY)
    chosen = {name for name in wanted if name in MULTIFIELD_TYPES}
    chosen.update(spec.upper for spec in fields if spec.upper in wanted)
    # protocol §9.3: "*" = standard non-multiple fields, "UF_*" = custom fields
    if "*" in wanted:
        chosen.update(spec.upper for spec in fields if not spec.dynamic and not spec.multiple)
    if "UF_*" in wanted:
        chosen.update(spec.upper for spec in fields if spec.dynamic)
    chosen.add("ID")
    return chosen


def _resolver(store: Store, type_id: int) -> lists.Resolver:
    fields = by_upper(store, type_id, LEGACY)

    def resolve(name: str) -> tuple[str, lists.Coerce] | None:
        upper = name.upper()
        if upper in MULTIFIELD_TYPES:
            return f"fm:{upper}", str
        spec = fields.get(upper)
        return None if spec is None or upper == "FM" else (spec.camel, filter_coercer(spec, store.zone))

    return resolve


def _get_value(record: dict[str, Any], name: str) -> Any:
    if name.startswith("fm:"):
        kind = name[3:]
        return [entry["value"] for entry in record.get("fm", []) if entry["typeId"] == kind]
    return record.get(name)


def _plain_field(name: str) -> bool:
    """True for the fields ``_get_value`` reads as stored (all but the multifield views)."""
    return not name.startswith("fm:")


def _make(entity: str, type_id: int) -> dict[str, Handler]:
    type_name = TYPE_NAMES[type_id]

    def add(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        changes = _changes(store, type_id, params, updating=False)
        try:
            record = crm_records.create(store, type_id, changes, ctx.user_id, ctx.now())
        except FieldProblem as problem:
            raise MethodError("", f'The field "{problem.field.title}" is required.') from None
        return Reply(record["id"])

    def update(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        record = store.crm[type_id].get(_id(params))
        if record is None:
            raise MethodError("", f"{type_name} is not found")
        changes = _changes(store, type_id, params, updating=True)
        try:
            crm_records.update(store, type_id, record, changes, ctx.user_id, ctx.now())
        except FieldProblem as problem:
            raise MethodError("", f'The field "{problem.field.title}" is required.') from None
        return Reply(True)

    def get(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        record = store.crm[type_id].get(_id(params))
        if record is None:
            raise MethodError("", "Not found")
        return Reply(render(store, type_id, record))

    def delete(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        record_id = _id(params)
        if record_id not in store.crm[type_id]:
            raise MethodError("ERROR_CORE", "Element not found")
        crm_records.delete(store, type_id, record_id)
        return Reply(True)

    def list_(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        resolve = _resolver(store, type_id)
        where = lists.parse_filter(param(params, "filter"), resolve, strict=False)
        order = lists.parse_order(param(params, "order"), resolve, strict=False)
        names = _select(store, type_id, param(params, "select"))
        page = lists.select_page(
            store.crm[type_id],
            where,
            order,
            start_of(params),
            "legacy",
            _get_value,
            "id",
            indexable=_plain_field,
        )
        return Reply(
            [render(store, type_id, record, names) for record in page.rows], total=page.total, next=page.next
        )

    def fields(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        required = set(store.required[type_id])
        out = {
            spec.upper: describe(spec, spec.camel in required, with_upper=False)
            for spec in fields_of(store, type_id, LEGACY)
            if spec.upper != "FM"
        }
        if _has_multifields(type_id):
            # protocol §9.9: multifields appear as "PHONE": {"type": "crm_multifield", "isMultiple": true}
            out.update(
                {
                    spec.upper: describe(spec, "fm" in required, with_upper=False)
                    for spec in LEGACY_MULTIFIELDS
                }
            )
        return Reply(out)

    actions: dict[str, Callable[[Context, dict[str, Any]], Reply]] = {
        "add": add,
        "update": update,
        "get": get,
        "delete": delete,
        "list": list_,
        "fields": fields,
    }
    return {f"crm.{entity}.{action}": handler for action, handler in actions.items()}


HANDLERS: dict[str, Handler] = {
    name: handler for entity, type_id in ENTITIES.items() for name, handler in _make(entity, type_id).items()
}
