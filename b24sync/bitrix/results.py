"""Where results keep what links and reports read (protocol §4.3 rule 6, §9, §10.1)."""

from __future__ import annotations

from typing import Any, Final

PathStep = str | int

CREATED_ITEM_ID: Final[tuple[PathStep, ...]] = ("item", "id")
"""The id in the answer of ``crm.item.add`` and ``crm.item.update``."""

# On success, the result of these methods always holds these paths with a scalar value (a missing or
# null node would make the portal substitute something else, protocol §4.3 rule 2).
KNOWN_PATHS: Final[dict[str, frozenset[tuple[PathStep, ...]]]] = {
    "crm.item.add": frozenset({CREATED_ITEM_ID}),
    "crm.item.update": frozenset({CREATED_ITEM_ID}),
    "crm.item.get": frozenset({CREATED_ITEM_ID}),
    "tasks.task.add": frozenset({("task", "id")}),
    "tasks.task.update": frozenset({("task", "id")}),
    "crm.contact.add": frozenset({()}),
    "crm.company.add": frozenset({()}),
    "crm.deal.add": frozenset({()}),
    "crm.lead.add": frozenset({()}),
    "crm.timeline.comment.add": frozenset({()}),
    "crm.activity.todo.add": frozenset({("id",)}),
    "user.current": frozenset({("ID",)}),
    # protocol §9.10: smart processes, pipelines, status rows and product rows
    "crm.type.add": frozenset({("type", "id"), ("type", "entityTypeId")}),
    "crm.type.get": frozenset({("type", "id"), ("type", "entityTypeId")}),
    "crm.type.update": frozenset({("type", "id"), ("type", "entityTypeId")}),
    "crm.category.add": frozenset({("category", "id")}),
    "crm.status.add": frozenset({()}),
    "crm.item.productrow.add": frozenset({("productRow", "id")}),
    "crm.item.productrow.update": frozenset({("productRow", "id")}),
}

ITEMS_KEYS: Final = {
    "crm.item.list": "items",
    "tasks.task.list": "tasks",
    "crm.type.list": "types",
    "crm.category.list": "categories",
    "crm.item.productrow.list": "productRows",
}
"""List methods that keep their rows under a key instead of answering the list itself (protocol §5.5)."""


KEYSET_ID_KEYS: Final = {
    "crm.item.list": "id",
    "crm.deal.list": "ID",
    "crm.contact.list": "ID",
    "crm.company.list": "ID",
    "crm.lead.list": "ID",
    "tasks.task.list": "ID",
}
"""List methods whose id filter and id order work with ``start=-1``: read by a keyset walk (protocol §8.3)."""

OFFSET_ORDER: Final = {"user.get": {"sort": "ID", "order": "ASC"}}
"""How b24sync orders other list methods by id for an offset walk (protocol §8.4, §9.1)."""


def is_known_path(method: str, path: tuple[PathStep, ...]) -> bool:
    """Whether ``path`` always exists in a successful result of ``method``."""
    return path in KNOWN_PATHS.get(method.lower(), frozenset())


def returns_object(method: str) -> bool:
    """Whether ``method`` is known to answer with an object or a bare id, never a list to index."""
    name = method.lower()
    return name in KNOWN_PATHS or name in ITEMS_KEYS


def items_key(method: str) -> str | None:
    """The key a list method keeps its rows under, or ``None`` when the result is the list itself."""
    return ITEMS_KEYS.get(method.lower())


def row_id_key(method: str, id_key: str) -> str:
    """The id name in returned rows: ``tasks.task.list`` filters by ``ID`` but returns ``id`` (§8.3)."""
    return "id" if method.lower() == "tasks.task.list" else id_key


def created_id(method: str, result: Any) -> int | str | None:
    """The id an ``*.add`` command created, as the portal returned it, else None."""
    if not method.lower().endswith(".add"):
        return None
    # protocol §9.3: old CRM add methods answer with the bare new id, e.g. {"result": 46}
    if isinstance(result, (int, str)) and not isinstance(result, bool):
        return result
    # protocol §9.2, §9.7: crm.item.add answers {"item": {"id": 342, ...}},
    # tasks.task.add {"task": {"id": "3711", ...}}
    if isinstance(result, dict) and len(result) == 1:
        (inner,) = result.values()
        if isinstance(inner, dict):
            found = inner.get("id")
            if isinstance(found, (int, str)) and not isinstance(found, bool):
                return found
    return None


def created_result(method: str, ident: int | str) -> Any:
    """The least result of ``method`` that names ``ident`` as the record it created (``created_id``
    gives ``ident`` back): what a run resumed from a report that kept only the id takes as its result.

    The record sits inside an object where ``KNOWN_PATHS`` says so (``{"item": {"id": ...}}``); an
    imported record is answered as ``crm.item.add`` is (protocol §9.8b); other methods, the bare id."""
    name = method.lower()
    name = "crm.item.add" if name == "crm.item.batchimport" else name
    wrapped = sorted(p for p in KNOWN_PATHS.get(name, ()) if len(p) == 2 and p[1] == "id")
    return {wrapped[0][0]: {"id": ident}} if wrapped else ident
