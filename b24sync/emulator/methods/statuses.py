"""``crm.status.list``: the stock reference lists of a new portal (stages, sources, types; §9.9)."""

from __future__ import annotations

from typing import Any

from . import lists
from .base import Context, Handler, Reply
from .params import param, start_of

# a new portal's stock entries per ENTITY_ID: (STATUS_ID, NAME); SORT runs 10, 20, ...
_STOCK: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "STATUS",
        (
            ("NEW", "Unassigned"),
            ("IN_PROCESS", "In progress"),
            ("PROCESSED", "Processed"),
            ("JUNK", "Junk lead"),
            ("CONVERTED", "Good lead"),
        ),
    ),
    (
        "SOURCE",
        (
            ("CALL", "Call"),
            ("EMAIL", "E-Mail"),
            ("WEB", "Website"),
            ("ADVERTISING", "Advertising"),
            ("PARTNER", "Existing client"),
            ("RECOMMENDATION", "By recommendation"),
            ("TRADE_SHOW", "Show/Exhibition"),
            ("WEBFORM", "CRM form"),
            ("CALLBACK", "Callback"),
            ("OTHER", "Other"),
        ),
    ),
    (
        "CONTACT_TYPE",
        (("CLIENT", "Clients"), ("SUPPLIER", "Suppliers"), ("PARTNER", "Partners"), ("OTHER", "Other")),
    ),
    (
        "COMPANY_TYPE",
        (
            ("CUSTOMER", "Client"),
            ("SUPPLIER", "Supplier"),
            ("COMPETITOR", "Competitor"),
            ("PARTNER", "Partner"),
            ("OTHER", "Other"),
        ),
    ),
    (
        "DEAL_TYPE",
        (
            ("SALE", "Sales"),
            ("COMPLEX", "Integrated sale"),
            ("GOODS", "Merchandise sale"),
            ("SERVICES", "Service sale"),
            ("SERVICE", "After-sales service"),
        ),
    ),
    (
        "DEAL_STAGE",
        (
            ("NEW", "New"),
            ("PREPARATION", "Document creation"),
            ("PREPAYMENT_INVOICE", "Invoice"),
            ("EXECUTING", "In progress"),
            ("FINAL_INVOICE", "Final invoice"),
            ("WON", "Deal won"),
            ("LOSE", "Deal lost"),
            ("APOLOGY", "Analyze failure"),
        ),
    ),
    (
        "INDUSTRY",
        (
            ("IT", "Information Technology"),
            ("TELECOM", "Telecommunication"),
            ("MANUFACTURING", "Manufacturing"),
            ("BANKING", "Banking Services"),
            ("CONSULTING", "Consulting"),
            ("FINANCE", "Finance"),
            ("GOVERNMENT", "Government"),
            ("DELIVERY", "Delivery"),
            ("ENTERTAINMENT", "Entertainment"),
            ("NOTPROFIT", "Non-profit"),
            ("OTHER", "Other"),
        ),
    ),
    # added after the first lists, so the ids of those stay as they were
    (
        "EMPLOYEES",
        (
            ("EMPLOYEES_1", "fewer than 50"),
            ("EMPLOYEES_2", "50-250"),
            ("EMPLOYEES_3", "250-500"),
            ("EMPLOYEES_4", "over 500"),
        ),
    ),
    ("HONORIFIC", (("HNR_EN_1", "Mr."), ("HNR_EN_2", "Mrs."), ("HNR_EN_3", "Ms."), ("HNR_EN_4", "Dr."))),
)
_SEMANTICS = {"CONVERTED": "S", "JUNK": "F", "WON": "S", "LOSE": "F", "APOLOGY": "F"}
_FIELDS = (
    "ID",
    "ENTITY_ID",
    "STATUS_ID",
    "NAME",
    "NAME_INIT",
    "SORT",
    "SYSTEM",
    "CATEGORY_ID",
    "COLOR",
    "SEMANTICS",
)


def stock_rows() -> dict[int, dict[str, Any]]:
    """Every stock entry as crm.status.list returns it (ids and sorts as strings), keyed by id."""
    table: dict[int, dict[str, Any]] = {}
    for entity_id, entries in _STOCK:
        for index, (status_id, name) in enumerate(entries):
            row_id = len(table) + 1
            table[row_id] = {
                "ID": str(row_id),
                "ENTITY_ID": entity_id,
                "STATUS_ID": status_id,
                "NAME": name,
                "NAME_INIT": name,
                "SORT": str((index + 1) * 10),
                "SYSTEM": "Y",
                "CATEGORY_ID": "0" if entity_id == "DEAL_STAGE" else None,
                "COLOR": None,
                "SEMANTICS": _SEMANTICS.get(status_id) if entity_id in ("STATUS", "DEAL_STAGE") else None,
            }
    return table


def all_rows(store: Any) -> dict[int, dict[str, Any]]:
    """The stock rows with the portal's changes: edited and added rows, deleted ones left out."""
    table = stock_rows()
    extras = getattr(store, "extras", None)
    for row_id, row in (extras.statuses if extras is not None else {}).items():
        if row is None:
            table.pop(row_id, None)
        else:
            table[row_id] = row
    return dict(sorted(table.items()))


def _resolve(name: str) -> tuple[str, lists.Coerce] | None:
    upper = name.upper()
    return (upper, lambda raw: raw) if upper in _FIELDS else None


def _value(row: dict[str, Any], name: str) -> Any:
    # ID and SORT are integer columns sent as strings: order them as numbers
    return int(row[name]) if name in ("ID", "SORT") else row.get(name)


def status_list(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.status.list -> a plain array; unknown filter keys dropped, default order SORT then ID."""
    where = lists.parse_filter(param(params, "filter"), _resolve, strict=False)
    order = lists.parse_order(param(params, "order"), _resolve, strict=False) or [
        ("ENTITY_ID", False),
        ("SORT", False),
    ]
    page = lists.select_page(all_rows(ctx.store), where, order, start_of(params), "legacy", _value, "ID")
    return Reply(page.rows, total=page.total, next=page.next)


HANDLERS: dict[str, Handler] = {"crm.status.list": status_list}
