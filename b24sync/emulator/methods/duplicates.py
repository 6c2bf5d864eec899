"""``crm.duplicate.findbycomm``: records of leads, contacts and companies sharing a phone or e-mail."""

from __future__ import annotations

from typing import Any

from ..store import Store
from .base import Context, Handler, MethodError, Reply
from .params import as_list, param

MAX_VALUES = 20
_ENTITY_TYPES = {"LEAD": 1, "CONTACT": 3, "COMPANY": 4}


def normalise(kind: str, value: str) -> str:
    """The comparable form of a value: digits only for phones, lower case for e-mails (protocol U16)."""
    if kind == "PHONE":
        return "".join(char for char in value if char.isdigit())
    return value.strip().lower()


def find_by_comm(ctx: Context, params: dict[str, Any]) -> Reply:
    """Map of entity type -> int ids having one of the values; ``[]`` when none (protocol §9.6)."""
    store: Store = ctx.store
    kind = str(param(params, "type") or "").upper()
    if not kind:
        raise MethodError("", "Communication type is not defined.")
    if kind not in ("EMAIL", "PHONE"):
        raise MethodError("", f"Communication type '{kind}' is not supported in current context.")
    raw = param(params, "values")
    values = as_list(raw) if not isinstance(raw, str) else [raw]
    wanted = {normalise(kind, str(value)) for value in (values or [])[:MAX_VALUES]} - {""}
    if not wanted:
        raise MethodError("", "Communication values is not defined.")
    entity = str(param(params, "entity_type") or "").upper()
    if entity and entity not in _ENTITY_TYPES:
        raise MethodError("", f"Entity type '{entity}' is not supported in current context.")
    result: dict[str, list[int]] = {}
    for name, type_id in _ENTITY_TYPES.items():
        if entity and name != entity:
            continue
        ids = [
            record_id
            for record_id, record in store.crm[type_id].items()
            if any(
                entry["typeId"] == kind and normalise(kind, entry["value"]) in wanted
                for entry in record.get("fm", [])
            )
        ]
        if ids:
            result[name] = ids
    # protocol §5.3, §9.6: no hits at all is an empty PHP array, i.e. JSON []
    return Reply(result if result else [])


HANDLERS: dict[str, Handler] = {"crm.duplicate.findbycomm": find_by_comm}
