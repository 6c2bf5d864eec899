"""``crm.timeline.comment.add`` and ``crm.activity.todo.add``: notes and to-dos on CRM records (§9.8)."""

from __future__ import annotations

from typing import Any

from .. import dates
from ..store import CRM_TYPES, Store
from .base import Context, Handler, MethodError, Reply
from .params import as_list, as_map, param, required_int, to_int

_ENTITY_TYPES = {name: type_id for type_id, name in CRM_TYPES.items()}


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _owner(store: Store, type_id: int | None, owner_id: int | None) -> None:
    if type_id not in CRM_TYPES or owner_id is None or owner_id not in store.crm[type_id]:
        raise MethodError("OWNER_NOT_FOUND", "Owner not found.")


def comment_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.timeline.comment.add -> the new comment's id as a bare int."""
    store = _store(ctx)
    # protocol §9.8: only the lowercase parameter name is read since crm 23.100.0
    fields = {str(key).upper(): value for key, value in (as_map(params.get("fields")) or {}).items()}
    if not fields:
        raise MethodError("100", "Could not find value for parameter {fields}")
    entity = str(fields.get("ENTITY_TYPE") or "").lower()
    _owner(store, _ENTITY_TYPES.get(entity), to_int(fields.get("ENTITY_ID")))
    comment = fields.get("COMMENT")
    if not isinstance(comment, (str, int, float)) or str(comment).strip() == "":
        raise MethodError("INVALID_ARG_VALUE", "Comment text is empty.")
    files = [str((as_list(item) or [""])[0]) for item in as_list(fields.get("FILES")) or []]
    comment_id = store.next_id("comment")
    store.comment_table[comment_id] = {
        "id": comment_id,
        "entityTypeId": _ENTITY_TYPES[entity],
        "entityId": to_int(fields["ENTITY_ID"]),
        "comment": str(comment),
        "authorId": ctx.user_id,
        "created": store.iso(ctx.now()),
        "files": files,
    }
    return Reply(comment_id)


def todo_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.activity.todo.add -> ``{"id": N}``."""
    store = _store(ctx)
    owner_type = required_int(params, "ownerTypeId")
    owner_id = required_int(params, "ownerId")
    raw_deadline = param(params, "deadline")
    if raw_deadline in (None, ""):
        raise MethodError("100", "Could not find value for parameter {deadline}")
    _owner(store, owner_type, owner_id)
    moment = dates.parse_datetime(raw_deadline, store.zone) if isinstance(raw_deadline, str) else None
    if moment is None:
        raise MethodError("WRONG_DATETIME_FORMAT", "Wrong datetime format.")
    responsible = to_int(param(params, "responsibleId"))
    offsets = [
        number
        for number in (to_int(item) for item in as_list(param(params, "pingOffsets")) or [])
        if number is not None
    ]
    activity_id = store.next_id("activity")
    store.activity_table[activity_id] = {
        "id": activity_id,
        "ownerTypeId": owner_type,
        "ownerId": owner_id,
        "deadline": dates.format_datetime(moment, store.zone),
        "title": str(param(params, "title") or ""),
        "description": str(param(params, "description") or ""),
        "responsibleId": responsible if responsible else ctx.user_id,
        "pingOffsets": offsets,
        "colorId": str(param(params, "colorId") or ""),
        "created": store.iso(ctx.now()),
        "completed": "N",
    }
    return Reply({"id": activity_id})


HANDLERS: dict[str, Handler] = {"crm.timeline.comment.add": comment_add, "crm.activity.todo.add": todo_add}
