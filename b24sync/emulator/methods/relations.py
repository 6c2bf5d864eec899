"""Deal contacts and contact companies (protocol §9.4): add, items.get, items.set."""

from __future__ import annotations

from typing import Any

from ..store import Store
from . import crm_records
from .base import Context, Handler, MethodError, Reply
from .params import as_list, as_map, param, to_int, to_yn

# owner type -> (owner entity type, linked entity type, UPPER key of the linked id)
_KINDS = {"deal.contact": (2, 3, "CONTACT_ID"), "contact.company": (3, 4, "COMPANY_ID")}


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _owner(store: Store, owner_type: int, params: dict[str, Any]) -> int:
    owner_id = to_int(param(params, "id"))
    if owner_id is None or owner_id <= 0:
        raise MethodError("", "The parameter 'ownerEntityID' is invalid or not defined.")
    if owner_id not in store.crm[owner_type]:
        raise MethodError("", "Not found.")
    return owner_id


def _row(store: Store, linked_type: int, key: str, raw: Any) -> tuple[int, int | None, bool]:
    values = {str(k).upper(): v for k, v in (as_map(raw) or {}).items()}
    linked_id = to_int(values.get(key))
    if linked_id is None or linked_id <= 0:
        raise MethodError("", "The parameter 'fields' is not valid.")
    if linked_id not in store.crm[linked_type]:
        raise MethodError("", "Not found.")
    return linked_id, to_int(values.get("SORT")), to_yn(values.get("IS_PRIMARY")) == "Y"


def _make(kind: str) -> dict[str, Handler]:
    owner_type, linked_type, key = _KINDS[kind]

    def add(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        owner_id = _owner(store, owner_type, params)
        linked_id, sort, primary = _row(store, linked_type, key, param(params, "fields"))
        # protocol §9.4: false when already linked; the first link becomes primary
        return Reply(crm_records.add_link(store, owner_type, owner_id, linked_id, sort, primary))

    def items_get(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        owner_id = _owner(store, owner_type, params)
        # protocol §9.4: ints here, unlike the rest of the old CRM methods
        rows = crm_records.links_of(store, owner_type, owner_id)
        return Reply(
            [
                {
                    key: row["id"],
                    "SORT": row["sort"],
                    "ROLE_ID": row["roleId"],
                    "IS_PRIMARY": row["isPrimary"],
                }
                for row in rows
            ]
        )

    def items_set(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        owner_id = _owner(store, owner_type, params)
        raw = param(params, "items")
        entries = as_list(raw) if raw not in (None, "") else []
        if entries is None:
            raise MethodError("", "The parameter 'items' must be array.")
        rows = []
        for index, entry in enumerate(entries):
            linked_id, sort, primary = _row(store, linked_type, key, entry)
            rows.append(
                {
                    "id": linked_id,
                    "sort": sort if sort is not None else (index + 1) * 10,
                    "roleId": 0,
                    "isPrimary": "Y" if primary else "N",
                }
            )
        crm_records.set_links(store, owner_type, owner_id, rows)
        return Reply(True)

    return {f"crm.{kind}.add": add, f"crm.{kind}.items.get": items_get, f"crm.{kind}.items.set": items_set}


HANDLERS: dict[str, Handler] = {**_make("deal.contact"), **_make("contact.company")}
