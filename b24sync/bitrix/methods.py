"""Classes of methods: which only read, which are safe to send twice, which scope each needs.

protocol §7.4: after a lost answer only a request whose every command is safe to repeat may be sent
again; everything else may already have happened.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

NOT_IN_BATCH: Final = frozenset({"batch", "download", "upload"})
"""Methods the portal refuses inside a batch (protocol §3.3)."""

ENTITY_TYPES: Final = {"lead": 1, "deal": 2, "contact": 3, "company": 4}
"""``crm.item`` entityTypeId of the classic CRM entities (protocol §9.2)."""

# A method reads when its last name part is one of these, or it is one of READ_METHODS.
READ_VERBS: Final = frozenset(
    {"get", "list", "fields", "current", "time", "search", "findbycomm", "getfields", "getbyentitytypeid"}
)
READ_METHODS: Final = frozenset({"profile", "scope", "methods"})

# protocol §9.5: multifield entries without an ID are appended on update, so repeating adds them twice.
MULTIFIELDS: Final = frozenset({"fm", "PHONE", "EMAIL", "WEB", "IM", "LINK"})

# The scope each method family needs (protocol §9.1 to §9.8; basic methods need none).
_SCOPES: Final = (
    ("crm.", "crm"),
    ("tasks.", "task"),
    ("task.", "task"),
    ("user.", "user"),
    ("department.", "department"),
    ("im.", "im"),
    ("disk.", "disk"),
    ("calendar.", "calendar"),
    ("lists.", "lists"),
    ("sonet_group.", "sonet_group"),
    ("telephony.", "telephony"),
)


@functools.lru_cache(maxsize=4096)
def is_read(method: str) -> bool:
    """Whether a method only reads (sending it twice, or with a wrong filter, changes nothing)."""
    name = method.lower()
    return name in READ_METHODS or name.rsplit(".", 1)[-1] in READ_VERBS


def is_safe_to_repeat(method: str, params: Mapping[str, Any] | None = None) -> bool:
    """True when sending the call twice leaves the portal as sending it once."""
    repeat = _repeat(method)
    return not appends_multifields(params) if repeat is None else repeat


@functools.lru_cache(maxsize=4096)
def _repeat(method: str) -> bool | None:
    """``is_safe_to_repeat`` of ``method`` whatever its parameters; None when they decide (an update).

    Asked for every command of every request: kept per method name (a pipeline has a handful)."""
    if is_read(method):
        return True
    name = method.lower()
    if name.endswith(".update") or name.endswith(".items.set"):
        return None
    # protocol §9.10: a product-row set replaces every row of its owner, so a repeat changes nothing
    return name in REPLACING_SETS


REPLACING_SETS: Final = frozenset(
    {"crm.item.productrow.set", "crm.deal.productrows.set", "crm.lead.productrows.set"}
)


def appends_multifields(params: Mapping[str, Any] | None) -> bool:
    """Whether an update's ``fields`` add multifield entries (which a repeat would add again).

    An upsert's ``fm`` update sends its missing entries as ``n0``, ``n1``, ... (protocol §9.5): such
    an update is never sent twice after a lost answer; one that only deletes entries by id is.
    """
    fields = next((v for k, v in (params or {}).items() if str(k).lower() in ("fields", "arfields")), None)
    if not isinstance(fields, Mapping):
        return False
    for name, value in fields.items():
        if name not in MULTIFIELDS:
            continue
        if name == "fm":
            # crm.item update: an array, or keys n0, n1, ... add entries; numeric keys change them.
            keys = value if isinstance(value, Mapping) else {}
            appends = any(str(k).startswith("n") for k in keys) if keys else bool(value)
        else:
            entries = list(value.values()) if isinstance(value, Mapping) else value
            appends = isinstance(entries, list) and any(
                isinstance(e, Mapping) and not e.get("ID") for e in entries
            )
        if appends:
            return True
    return False


def required_scope(method: str) -> str | None:
    """The webhook scope ``method`` belongs to, when b24sync knows it."""
    name = method.lower()
    return next((scope for prefix, scope in _SCOPES if name.startswith(prefix)), None)


# What a write does to its record, by the last part of its name (crm.item.add, tasks.task.update, ...).
CHANGE_VERBS: Final = {
    "add": "created",
    "update": "updated",
    "delete": "deleted",
    # protocol §9.8b: each record of crm.item.batchImport (one entry per record) and of
    # crm.item.import is a record created
    "batchimport": "created",
    "import": "created",
}


def change_kind(method: str) -> str | None:
    """``created``, ``updated`` or ``deleted`` for an add, import, update or delete method; else None."""
    return CHANGE_VERBS.get(method.lower().rsplit(".", 1)[-1])
