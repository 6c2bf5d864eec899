"""Reference methods a portal answers the same way everywhere: ``crm.enum.*``, ``crm.multifield.fields``,
``crm.userfield.types`` (RD ``crm/auxiliary/enum/*``, ``crm/auxiliary/multifield/*``,
``crm/universal/userfields``). Types of the portal's smart processes join ``crm.enum.ownertype``.
"""

from __future__ import annotations

from typing import Any

from ..store import Store
from .base import Context, Handler, Reply
from .crm_fields import CrmField, describe

_OWNER_TYPES = (
    (1, "Lead", "LEAD", "L"),
    (2, "Deal", "DEAL", "D"),
    (3, "Contact", "CONTACT", "C"),
    (4, "Company", "COMPANY", "CO"),
    (5, "Invoice", "INVOICE", "I"),
    (7, "Estimate", "QUOTE", "Q"),
    (8, "Requisite", "REQUISITE", "RQ"),
    (31, "Invoice", "SMART_INVOICE", "SI"),
    (36, "Document", "SMART_DOCUMENT", "DO"),
)
# name -> (ID, NAME) rows; SYMBOL_CODE and SYMBOL_CODE_SHORT are null for these (RD crm-enum-*.md)
_ENUMS: dict[str, tuple[tuple[int, str], ...]] = {
    "activitytype": (
        (0, "Undefined"),
        (1, "Meeting"),
        (2, "Call"),
        (3, "Task"),
        (4, "E-mail"),
        (5, "Action"),
        (6, "Custom"),
    ),
    "activitystatus": ((0, "Undefined"), (1, "Waiting"), (2, "Completed"), (3, "Auto-completed")),
    "activitypriority": ((0, "Undefined"), (1, "Low"), (2, "Medium"), (3, "High")),
    "activitynotifytype": ((0, "Undefined"), (1, "Minutes"), (2, "Hours"), (3, "Days")),
    "activitydirection": ((0, "Undefined"), (1, "Incoming"), (2, "Outgoing")),
    "addresstype": (
        (1, "Actual address"),
        (4, "Registered address"),
        (6, "Legal address"),
        (9, "Beneficiary address"),
    ),
    "contenttype": ((0, "Undefined"), (1, "Plain text"), (2, "BBCode"), (3, "HTML")),
    "settings.mode": ((1, "Classic CRM"), (2, "Simple CRM")),
}
_USERFIELD_TYPES = (
    ("string", "String"),
    ("integer", "Integer"),
    ("double", "Number"),
    ("boolean", "Yes/No"),
    ("datetime", "Date/Time"),
    ("date", "Date"),
    ("money", "Money"),
    ("url", "Link"),
    ("address", "Google Maps address"),
    ("enumeration", "List"),
    ("file", "File"),
    ("employee", "Link to user"),
    ("crm_status", "Link to CRM reference"),
    ("iblock_section", "Link to information block sections"),
    ("iblock_element", "Link to information block elements"),
    ("crm", "Link to CRM elements"),
)


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [
        {"ID": row_id, "NAME": name, "SYMBOL_CODE": None, "SYMBOL_CODE_SHORT": None} for row_id, name in rows
    ]


def _enum(name: str) -> Handler:
    def handler(ctx: Context, params: dict[str, Any]) -> Reply:
        return Reply(_rows(_ENUMS[name]))

    return handler


def owner_type(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.enum.ownertype -> CRM object types, the portal's smart processes included."""
    rows = [
        {"ID": type_id, "NAME": name, "SYMBOL_CODE": code, "SYMBOL_CODE_SHORT": short}
        for type_id, name, code, short in _OWNER_TYPES
    ]
    for smart in sorted(_store(ctx).extras.types.values(), key=lambda t: t["entityTypeId"]):
        entity_type_id = smart["entityTypeId"]
        rows.append(
            {
                "ID": entity_type_id,
                "NAME": smart["title"],
                "SYMBOL_CODE": f"DYNAMIC_{entity_type_id}",
                "SYMBOL_CODE_SHORT": f"T{entity_type_id:x}",
            }
        )
    return Reply(rows)


def order_owner_types(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.enum.getorderownertypes -> the types an order can be bound to."""
    return Reply([{"id": 2, "name": "Deal", "attribute": "D", "code": "DEAL"}])


_ENUM_FIELDS = (
    CrmField("ID", "ID", "integer", "ID", read_only=True),
    CrmField("NAME", "NAME", "string", "Name", read_only=True),
    CrmField("SYMBOL_CODE", "SYMBOL_CODE", "string", "Symbolic code", read_only=True),
    CrmField("SYMBOL_CODE_SHORT", "SYMBOL_CODE_SHORT", "string", "Short symbolic code", read_only=True),
)
_MULTIFIELD_FIELDS = (
    CrmField("ID", "ID", "integer", "ID", read_only=True),
    CrmField("TYPE_ID", "TYPE_ID", "string", "Type", immutable=True),
    CrmField("VALUE", "VALUE", "string", "Value"),
    CrmField("VALUE_TYPE", "VALUE_TYPE", "string", "Value type"),
)


def enum_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.enum.fields -> the fields of an enumeration row."""
    return Reply({spec.upper: describe(spec, False, False) for spec in _ENUM_FIELDS})


def multifield_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.multifield.fields -> the fields of a multifield entry (protocol §9.5)."""
    return Reply({spec.upper: describe(spec, spec.upper == "VALUE", False) for spec in _MULTIFIELD_FIELDS})


def userfield_types(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.userfield.types -> ``[{ID, title}]`` of the custom field types."""
    return Reply([{"ID": type_id, "title": title} for type_id, title in _USERFIELD_TYPES])


HANDLERS: dict[str, Handler] = {
    **{f"crm.enum.{name}": _enum(name) for name in _ENUMS},
    "crm.enum.ownertype": owner_type,
    "crm.enum.getorderownertypes": order_owner_types,
    "crm.enum.fields": enum_fields,
    "crm.multifield.fields": multifield_fields,
    "crm.userfield.types": userfield_types,
}
