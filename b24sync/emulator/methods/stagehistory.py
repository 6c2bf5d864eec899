"""``crm.stagehistory.list``: when leads, deals and smart-process items were created and moved.

Rows (RD ``crm/crm-stage-history-list.md``): ``ID``, ``TYPE_ID`` (1 created, 2 moved to another
stage), ``OWNER_ID``, ``CREATED_TIME``, and for leads ``STATUS_ID``/``STATUS_SEMANTIC_ID``, for
deals and smart processes ``CATEGORY_ID``, ``STAGE_ID``/``STAGE_SEMANTIC_ID``; ids are ints.
"""

from __future__ import annotations

from typing import Any

from ..store import Store
from . import lists
from .base import Context, Handler, MethodError, Reply
from .crm_fields import is_crm_type
from .params import as_list, param, required_int, start_of, to_int

_LEAD = 1


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ID": entry["id"],
        "TYPE_ID": entry["typeId"],
        "OWNER_ID": entry["ownerId"],
        "CREATED_TIME": entry["createdTime"],
    }
    if entry["entityTypeId"] == _LEAD:
        row.update(STATUS_SEMANTIC_ID=entry["semantics"], STATUS_ID=entry["stageId"])
    else:
        row.update(
            CATEGORY_ID=entry["categoryId"], STAGE_SEMANTIC_ID=entry["semantics"], STAGE_ID=entry["stageId"]
        )
    return row


def stage_history_list(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.stagehistory.list -> ``{"items": [...]}`` with total/next, by ID unless ordered."""
    store: Store = ctx.store
    entity_type_id = required_int(params, "entityTypeId")
    if not is_crm_type(store, entity_type_id) or entity_type_id in (3, 4):
        raise MethodError("NOT_FOUND", "Entity type is not supported")
    table = {
        entry["id"]: _row(entry)
        for entry in store.extras.stage_history
        if entry["entityTypeId"] == entity_type_id
    }
    names = set(next(iter(table.values()), {"ID": 0}))

    def resolve(name: str) -> tuple[str, lists.Coerce] | None:
        upper = name.upper()
        if upper not in names and upper not in ("ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME"):
            return None
        return upper, (to_int if upper in ("ID", "TYPE_ID", "OWNER_ID", "CATEGORY_ID") else (lambda raw: raw))

    where = lists.parse_filter(param(params, "filter"), resolve, strict=False)
    order = lists.parse_order(param(params, "order"), resolve, strict=False) or [("ID", False)]
    page = lists.select_page(table, where, order, start_of(params), "exact", lambda r, n: r.get(n), "ID")
    selected = as_list(param(params, "select"))
    wanted = {str(name).upper() for name in selected} if selected and "*" not in selected else None
    rows = [{k: v for k, v in row.items() if wanted is None or k in wanted or k == "ID"} for row in page.rows]
    return Reply({"items": rows}, total=page.total, next=page.next)


HANDLERS: dict[str, Handler] = {"crm.stagehistory.list": stage_history_list}
