"""``crm.lead|deal|contact|company.userfield.add/get/update/delete/list``: the portal's custom fields
(protocol §9.9). Admin only; ``add`` answers the new field's id, ``update`` and ``delete`` ``true``."""

from __future__ import annotations

from typing import Any

from ..store import CRM_TYPES, Store
from . import lists
from .base import Context, Handler, MethodError, Reply
from .crm_fields import uf_camel
from .params import as_list, as_map, param, start_of, to_int, to_yn

# protocol §9.9: filters are exact matches on these keys
_FILTERABLE = (
    "ID",
    "FIELD_NAME",
    "USER_TYPE_ID",
    "XML_ID",
    "SORT",
    "MULTIPLE",
    "MANDATORY",
    "SHOW_FILTER",
    "SHOW_IN_LIST",
    "EDIT_IN_LIST",
    "IS_SEARCHABLE",
)
_LABELS = ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL")


def _row(store: Store, type_id: int, name: str, spec: dict[str, Any], with_labels: bool) -> dict[str, Any]:
    required = set(store.required[type_id])
    row: dict[str, Any] = {
        "ID": str(spec["id"]),
        "ENTITY_ID": f"CRM_{CRM_TYPES[type_id].upper()}",
        "FIELD_NAME": name,
        "USER_TYPE_ID": spec["type"],
        "XML_ID": spec.get("xml_id"),
        "SORT": str(spec["sort"]),
        "MULTIPLE": "Y" if spec["multiple"] else "N",
        "MANDATORY": "Y" if uf_camel(name) in required else "N",
        "SHOW_FILTER": spec.get("show_filter", "E"),
        "SHOW_IN_LIST": spec.get("show_in_list", "Y"),
        "EDIT_IN_LIST": spec.get("edit_in_list", "Y"),
        "IS_SEARCHABLE": spec.get("is_searchable", "N"),
        "SETTINGS": dict(spec.get("settings", {})),
    }
    if spec["type"] == "enumeration":
        row["LIST"] = [dict(item) for item in spec.get("list", [])]
    if with_labels:
        row.update({label: spec["label"] for label in _LABELS})
    return row


def rows(store: Store, type_id: int, with_labels: bool) -> dict[int, dict[str, Any]]:
    """The userfield.list rows of a CRM type, keyed by field id in id order."""
    return {
        spec["id"]: _row(store, type_id, name, spec, with_labels)
        for name, spec in sorted(store.userfields[type_id].items(), key=lambda item: item[1]["id"])
    }


def _resolve(name: str) -> tuple[str, lists.Coerce] | None:
    upper = name.upper()
    return (upper, lambda raw: raw) if upper in _FILTERABLE else None


def _value(row: dict[str, Any], name: str) -> Any:
    # ID and SORT are integer columns sent as strings: order them as numbers
    return int(row[name]) if name in ("ID", "SORT") else row.get(name)


def _admin(store: Store, user_id: int) -> None:
    user = store.users.get(user_id)
    if user is None or not user["ADMIN"]:
        raise MethodError("", "Access denied.")


# FIELD_NAME, USER_TYPE_ID and MULTIPLE are fixed once the field exists
_FLAGS = {"SHOW_FILTER": "show_filter", "SHOW_IN_LIST": "show_in_list", "EDIT_IN_LIST": "edit_in_list"}


def _apply(store: Store, type_id: int, name: str, spec: dict[str, Any], fields: dict[str, Any]) -> None:
    """The changeable settings of ``fields`` on a stored field ``spec``."""
    if "XML_ID" in fields:
        spec["xml_id"] = None if fields["XML_ID"] in (None, "") else str(fields["XML_ID"])
    if to_int(fields.get("SORT")) is not None:
        spec["sort"] = to_int(fields["SORT"])
    for key, stored in (*_FLAGS.items(), ("IS_SEARCHABLE", "is_searchable")):
        if key in fields and fields[key] not in (None, ""):
            spec[stored] = "E" if key == "SHOW_FILTER" and to_yn(fields[key]) is None else to_yn(fields[key])
    settings = as_map(fields.get("SETTINGS"))
    if settings is not None:
        spec["settings"] = {str(k): _typed(v) for k, v in settings.items()}
    for key in ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LABEL"):
        label = fields.get(key)
        label = next(iter(label.values()), "") if isinstance(label, dict) else label
        if label not in (None, ""):
            spec["label"] = str(label)
    if "MANDATORY" in fields:
        camel = uf_camel(name)
        if to_yn(fields["MANDATORY"]) == "Y":
            store.require(type_id, camel)
        elif camel in store.required[type_id]:
            store.required[type_id].remove(camel)
    items = as_list(fields.get("LIST")) if fields.get("LIST") not in (None, "") else None
    if items is not None and spec["type"] == "enumeration":
        _set_list(store, spec, items)


def _typed(value: Any) -> Any:
    # a setting sent through a form arrives as text; numbers are kept as numbers, like the portal
    number = to_int(value) if isinstance(value, str) else None
    return number if number is not None and str(number) == value else value


def _set_list(store: Store, spec: dict[str, Any], items: list[Any]) -> None:
    """Enumeration options: new ones get an ID; ``{ID, DEL: Y}`` removes one (protocol §9.9)."""
    options = {int(item["ID"]): item for item in spec.get("list", [])}
    for position, raw in enumerate(items):
        entry = {str(k).upper(): v for k, v in (as_map(raw) or {}).items()}
        option_id = to_int(entry.get("ID"))
        if option_id in options:
            if to_yn(entry.get("DEL")) == "Y":
                del options[option_id]
                continue
            if entry.get("VALUE") not in (None, ""):
                options[option_id]["VALUE"] = str(entry["VALUE"])
            continue
        if entry.get("VALUE") in (None, ""):
            continue
        new_id = store.next_id("enum")
        sort = to_int(entry.get("SORT"))
        options[new_id] = {
            "ID": str(new_id),
            "SORT": str(sort if sort is not None else (position + 1) * 10),
            "VALUE": str(entry["VALUE"]),
            "DEF": "Y" if to_yn(entry.get("DEF")) == "Y" else "N",
            "XML_ID": str(entry.get("XML_ID") or f"X{new_id}"),
        }
    spec["list"] = sorted(options.values(), key=lambda item: (int(item["SORT"]), int(item["ID"])))


def _field_by_id(store: Store, type_id: int, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    field_id = to_int(param(params, "id"))
    if field_id is None or field_id <= 0:
        raise MethodError("", "ID is not defined or invalid.")
    found = next(((n, s) for n, s in store.userfields[type_id].items() if s["id"] == field_id), None)
    if found is None:
        raise MethodError("", "The user field is not found.")
    return found


def _make_edits(type_id: int) -> dict[str, Handler]:
    def add(ctx: Context, params: dict[str, Any]) -> Reply:
        store: Store = ctx.store
        _admin(store, ctx.user_id)
        fields = {str(k).upper(): v for k, v in (as_map(param(params, "fields")) or {}).items()}
        name = str(fields.get("FIELD_NAME") or "").upper()
        if not name:
            raise MethodError("", "The FIELD_NAME field is required.")
        # the portal adds the prefix a custom CRM field needs
        name = name if name.startswith("UF_CRM_") else f"UF_CRM_{name}"
        user_type = str(fields.get("USER_TYPE_ID") or "string")
        if name in store.userfields[type_id]:
            raise MethodError("ERROR_CORE", f"A user field {name} already exists.")
        try:
            store.add_userfield(type_id, name, user_type, to_yn(fields.get("MULTIPLE")) == "Y", name)
        except ValueError as error:
            raise MethodError("ERROR_CORE", str(error)) from None
        spec = store.userfields[type_id][name]
        spec["label"] = name
        _apply(store, type_id, name, spec, fields)
        return Reply(spec["id"])

    def get(ctx: Context, params: dict[str, Any]) -> Reply:
        store: Store = ctx.store
        _admin(store, ctx.user_id)
        name, spec = _field_by_id(store, type_id, params)
        return Reply(_row(store, type_id, name, spec, with_labels=True))

    def update(ctx: Context, params: dict[str, Any]) -> Reply:
        store: Store = ctx.store
        _admin(store, ctx.user_id)
        name, spec = _field_by_id(store, type_id, params)
        fields = {str(k).upper(): v for k, v in (as_map(param(params, "fields")) or {}).items()}
        _apply(store, type_id, name, spec, fields)
        return Reply(True)

    def delete(ctx: Context, params: dict[str, Any]) -> Reply:
        store: Store = ctx.store
        _admin(store, ctx.user_id)
        name, _ = _field_by_id(store, type_id, params)
        del store.userfields[type_id][name]
        camel = uf_camel(name)
        if camel in store.required[type_id]:
            store.required[type_id].remove(camel)
        for record in store.crm[type_id].values():
            record.pop(camel, None)
        return Reply(True)

    entity = CRM_TYPES[type_id]
    return {
        f"crm.{entity}.userfield.add": add,
        f"crm.{entity}.userfield.get": get,
        f"crm.{entity}.userfield.update": update,
        f"crm.{entity}.userfield.delete": delete,
    }


def _make(entity: str, type_id: int) -> Handler:
    def userfield_list(ctx: Context, params: dict[str, Any]) -> Reply:
        store: Store = ctx.store
        _admin(store, ctx.user_id)
        raw_filter = param(params, "filter")
        language = param(raw_filter, "LANG") if isinstance(raw_filter, dict) else None
        where = lists.parse_filter(raw_filter, _resolve, strict=False)
        raw_order = param(params, "order")
        # protocol §9.9: SORT then ID ascending unless told otherwise
        order = lists.parse_order(raw_order, _resolve, strict=False) if raw_order not in (None, "") else []
        order = order or [("SORT", False), ("ID", False)]
        table = rows(store, type_id, with_labels=language not in (None, ""))
        page = lists.select_page(table, where, order, start_of(params), "legacy", _value, "ID")
        return Reply(page.rows, total=page.total, next=page.next)

    return userfield_list


HANDLERS: dict[str, Handler] = {
    **{f"crm.{entity}.userfield.list": _make(entity, type_id) for type_id, entity in CRM_TYPES.items()},
    **{name: handler for type_id in CRM_TYPES for name, handler in _make_edits(type_id).items()},
}
