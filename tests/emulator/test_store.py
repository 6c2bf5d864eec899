"""The emulator's Store: seeded users, persistence round-trip, counts, dates in the portal's zone."""

from __future__ import annotations

import json

import pytest

from b24sync.emulator.store import Store
from tests.helpers.emulator_portal import Portal


def _busy_portal() -> Portal:
    portal = Portal(tz_offset="+02:00")
    portal.store.add_userfield(3, "UF_CRM_5_NOTE", "string", label="Note")
    portal.store.require(1, "title")
    portal.store.add_user("Carl", "Weber", "carl@example.com")
    contact = portal.call(
        "crm.contact.add",
        {
            "fields": {
                "NAME": "Ann",
                "BIRTHDATE": "2001-11-11",
                "UF_CRM_5_NOTE": "vip",
                "PHONE": [{"VALUE": "+4911"}],
                "EMAIL": [{"VALUE": "a@example.com"}],
            }
        },
    )
    company = portal.call("crm.company.add", {"fields": {"TITLE": "Acme", "REVENUE": 12.5}})
    deal = portal.call("crm.deal.add", {"fields": {"TITLE": "Order", "OPPORTUNITY": 99.9}})
    portal.call("crm.deal.contact.add", {"id": deal, "fields": {"CONTACT_ID": contact}})
    portal.call("crm.contact.company.add", {"id": contact, "fields": {"COMPANY_ID": company}})
    portal.call("crm.lead.add", {"fields": {"TITLE": "Lead"}})
    portal.call("crm.lead.delete", {"id": 1})
    portal.call("tasks.task.add", {"fields": {"TITLE": "Call", "RESPONSIBLE_ID": 4, "UF_CRM_TASK": ["D_1"]}})
    portal.call(
        "crm.timeline.comment.add", {"fields": {"ENTITY_TYPE": "deal", "ENTITY_ID": deal, "COMMENT": "Paid"}}
    )
    portal.call("crm.activity.todo.add", {"ownerTypeId": 2, "ownerId": deal, "deadline": "2024-09-01"})
    return portal


def test_empty_store_has_the_seeded_users() -> None:
    store = Store()
    assert store.users[1]["ADMIN"] is True and sorted(store.users) == [1, 2, 3]
    assert store.stats() == {
        "leads": 0,
        "deals": 0,
        "contacts": 0,
        "companies": 0,
        "users": 3,
        "tasks": 0,
        "comments": 0,
        "activities": 0,
        "deal_contacts": 0,
        "contact_companies": 0,
    }
    assert store.tz_offset == "+03:00"


def test_round_trip_is_exact_and_keeps_sequences() -> None:
    portal = _busy_portal()
    data = portal.store.to_json()
    restored = Store.from_json(json.loads(json.dumps(data)))
    assert restored.to_json() == data
    assert (
        restored.stats()
        == portal.store.stats()
        == {
            "leads": 0,
            "deals": 1,
            "contacts": 1,
            "companies": 1,
            "users": 4,
            "tasks": 1,
            "comments": 1,
            "activities": 1,
            "deal_contacts": 1,
            "contact_companies": 1,
        }
    )
    portal.store = restored
    # the deleted lead's id is not reused after a reload
    assert portal.call("crm.lead.add", {"fields": {"TITLE": "Again"}}) == 2
    contact = portal.call("crm.contact.get", {"id": 1})
    assert contact["BIRTHDATE"] == "2001-11-11T02:00:00+02:00" and contact["UF_CRM_5_NOTE"] == "vip"
    assert contact["COMPANY_ID"] == "1"
    assert portal.call("crm.contact.add", {"fields": {"PHONE": [{"VALUE": "1"}]}}) == 2
    assert portal.call("crm.contact.get", {"id": 2})["PHONE"][0]["ID"] == "3"
    error = portal.error("crm.lead.add", {"fields": {"NAME": "x"}})
    assert error.description == 'The field "Lead name" is required.'


@pytest.mark.parametrize("data", [{}, {"version": 99}, {"version": 1, "tz_offset": "+03:00"}, []])
def test_from_json_refuses_other_data(data: object) -> None:
    with pytest.raises(ValueError):
        Store.from_json(data)  # type: ignore[arg-type]


def test_items_and_tasks_are_copies() -> None:
    portal = _busy_portal()
    portal.store.items(3)[0]["name"] = "changed"
    portal.store.tasks()[0]["title"] = "changed"
    assert portal.store.items(3)[0]["name"] == "Ann" and portal.store.tasks()[0]["title"] == "Call"
    assert portal.store.tasks()[0]["ufCrmTask"] == ["D_1"]


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        Store("Moscow")
    with pytest.raises(ValueError, match="UF_CRM_"):
        Store().add_userfield(3, "NOTE")
    with pytest.raises(ValueError, match="entity type"):
        Store().add_userfield(9, "UF_CRM_X")
