"""Deal contacts, lead contacts, contact companies and company contacts (protocol §9.4): add, delete,
items.get, items.set, items.delete, fields. A company's contacts are its contacts' company links."""

from __future__ import annotations

from typing import Any

from ..store import Store
from . import crm_records
from .base import Context, Handler, MethodError, Reply
from .params import as_list, as_map, param, to_int, to_yn

# owner type -> (owner entity type, linked entity type, UPPER key of the linked id)
_KINDS = {
    "deal.contact": (2, 3, "CONTACT_ID"),
    "contact.company": (3, 4, "COMPANY_ID"),
    "lead.contact": (1, 3, "CONTACT_ID"),
}


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

    def delete(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        owner_id = _owner(store, owner_type, params)
        linked_id, _, _ = _row(store, linked_type, key, param(params, "fields"))
        rows = crm_records.links_of(store, owner_type, owner_id)
        # protocol §9.4: false when there was no such link
        if all(row["id"] != linked_id for row in rows):
            return Reply(False)
        crm_records.set_links(store, owner_type, owner_id, [row for row in rows if row["id"] != linked_id])
        return Reply(True)

    def items_delete(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        crm_records.set_links(store, owner_type, _owner(store, owner_type, params), [])
        return Reply(True)

    return {
        f"crm.{kind}.add": add,
        f"crm.{kind}.items.get": items_get,
        f"crm.{kind}.items.set": items_set,
        f"crm.{kind}.delete": delete,
        f"crm.{kind}.items.delete": items_delete,
        f"crm.{kind}.fields": _fields_handler(key),
    }


def _fields_handler(key: str) -> Handler:
    def fields(ctx: Context, params: dict[str, Any]) -> Reply:
        kind = "crm_contact" if key == "CONTACT_ID" else "crm_company"
        described = {
            key: {"type": kind, "isRequired": True},
            "SORT": {"type": "integer", "isRequired": False},
            "ROLE_ID": {"type": "integer", "isRequired": False, "isReadOnly": True},
            "IS_PRIMARY": {"type": "char", "isRequired": False},
        }
        return Reply(
            {
                name: {
                    "isReadOnly": False,
                    "isImmutable": False,
                    "isMultiple": False,
                    "isDynamic": False,
                    **entry,
                    "title": name,
                }
                for name, entry in described.items()
            }
        )

    return fields


def _company_contacts(store: Store, company_id: int) -> list[dict[str, Any]]:
    """A company's contacts: the contact-company links read from the company's side, by sort."""
    rows = [
        {"id": contact_id, "sort": row["sort"], "roleId": row["roleId"]}
        for contact_id, links in store.contact_companies.items()
        for row in links
        if row["id"] == company_id
    ]
    rows.sort(key=lambda row: (row["sort"], row["id"]))
    return [{**row, "isPrimary": "Y" if index == 0 else "N"} for index, row in enumerate(rows)]


def _company_side() -> dict[str, Handler]:
    """``crm.company.contact.*``: the same links as ``crm.contact.company.*``, from the company."""

    def company(store: Store, params: dict[str, Any]) -> int:
        return _owner(store, 4, params)

    def add(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        company_id = company(store, params)
        contact_id, sort, primary = _row(store, 3, "CONTACT_ID", param(params, "fields"))
        return Reply(crm_records.add_link(store, 3, contact_id, company_id, sort, primary))

    def items_get(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        rows = _company_contacts(store, company(store, params))
        return Reply(
            [
                {
                    "CONTACT_ID": r["id"],
                    "SORT": r["sort"],
                    "ROLE_ID": r["roleId"],
                    "IS_PRIMARY": r["isPrimary"],
                }
                for r in rows
            ]
        )

    def unlink(store: Store, contact_id: int, company_id: int) -> bool:
        rows = crm_records.links_of(store, 3, contact_id)
        if all(row["id"] != company_id for row in rows):
            return False
        crm_records.set_links(store, 3, contact_id, [row for row in rows if row["id"] != company_id])
        return True

    def delete(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        company_id = company(store, params)
        contact_id, _, _ = _row(store, 3, "CONTACT_ID", param(params, "fields"))
        return Reply(unlink(store, contact_id, company_id))

    def items_delete(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        company_id = company(store, params)
        for row in _company_contacts(store, company_id):
            unlink(store, row["id"], company_id)
        return Reply(True)

    def items_set(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        company_id = company(store, params)
        raw = param(params, "items")
        entries = as_list(raw) if raw not in (None, "") else []
        if entries is None:
            raise MethodError("", "The parameter 'items' must be array.")
        wanted = [_row(store, 3, "CONTACT_ID", entry) for entry in entries]
        for row in _company_contacts(store, company_id):
            unlink(store, row["id"], company_id)
        for index, (contact_id, sort, primary) in enumerate(wanted):
            crm_records.add_link(
                store, 3, contact_id, company_id, sort if sort is not None else (index + 1) * 10, primary
            )
        return Reply(True)

    return {
        "crm.company.contact.add": add,
        "crm.company.contact.items.get": items_get,
        "crm.company.contact.items.set": items_set,
        "crm.company.contact.delete": delete,
        "crm.company.contact.items.delete": items_delete,
        "crm.company.contact.fields": _fields_handler("CONTACT_ID"),
    }


HANDLERS: dict[str, Handler] = {
    **_make("deal.contact"),
    **_make("contact.company"),
    **_make("lead.contact"),
    **_company_side(),
}
