"""``crm.lead|deal|contact|company.userfield.list``: the portal's custom fields (protocol §9.9)."""

from __future__ import annotations

from typing import Any

from ..store import CRM_TYPES, Store
from . import lists
from .base import Context, Handler, MethodError, Reply
from .crm_fields import uf_camel
from .params import param, start_of

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


def rows(store: Store, type_id: int, with_labels: bool) -> dict[int, dict[str, Any]]:
    """The userfield.list rows of a CRM type, keyed by field id in id order."""
    required = set(store.required[type_id])
    table: dict[int, dict[str, Any]] = {}
    for name, spec in sorted(store.userfields[type_id].items(), key=lambda item: item[1]["id"]):
        row: dict[str, Any] = {
            "ID": str(spec["id"]),
            "ENTITY_ID": f"CRM_{CRM_TYPES[type_id].upper()}",
            "FIELD_NAME": name,
            "USER_TYPE_ID": spec["type"],
            "XML_ID": None,
            "SORT": str(spec["sort"]),
            "MULTIPLE": "Y" if spec["multiple"] else "N",
            "MANDATORY": "Y" if uf_camel(name) in required else "N",
            "SHOW_FILTER": "E",
            "SHOW_IN_LIST": "Y",
            "EDIT_IN_LIST": "Y",
            "IS_SEARCHABLE": "N",
            "SETTINGS": {},
        }
        if with_labels:
            row.update({label: spec["label"] for label in _LABELS})
        table[spec["id"]] = row
    return table


def _resolve(name: str) -> tuple[str, lists.Coerce] | None:
    upper = name.upper()
    return (upper, lambda raw: raw) if upper in _FILTERABLE else None


def _value(row: dict[str, Any], name: str) -> Any:
    # ID and SORT are integer columns sent as strings: order them as numbers
    return int(row[name]) if name in ("ID", "SORT") else row.get(name)


def _make(entity: str, type_id: int) -> Handler:
    def userfield_list(ctx: Context, params: dict[str, Any]) -> Reply:
        store: Store = ctx.store
        user = store.users.get(ctx.user_id)
        if user is None or not user["ADMIN"]:
            raise MethodError("", "Access denied.")
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
    f"crm.{entity}.userfield.list": _make(entity, type_id) for type_id, entity in CRM_TYPES.items()
}
