"""crm.deal.contact.* and crm.contact.company.add against protocol §9.4."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    portal = Portal(request.param)
    for name in ("A", "B", "C"):
        portal.call("crm.contact.add", {"fields": {"NAME": name}})
    portal.call("crm.deal.add", {"fields": {"TITLE": "D"}})
    portal.call("crm.company.add", {"fields": {"TITLE": "Acme"}})
    portal.call("crm.company.add", {"fields": {"TITLE": "Globex"}})
    return portal


def test_first_link_is_primary_and_a_repeat_answers_false(portal: Portal) -> None:
    assert portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 2}}) is True
    assert portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 3}}) is True
    assert portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 2}}) is False
    assert portal.call("crm.deal.contact.items.get", {"id": 1}) == [
        {"CONTACT_ID": 2, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": 3, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"},
    ]


def test_explicit_primary_moves_the_flag(portal: Portal) -> None:
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 2}})
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 3, "IS_PRIMARY": "Y", "SORT": 5}})
    rows = portal.call("crm.deal.contact.items.get", {"id": 1})
    assert [(row["CONTACT_ID"], row["SORT"], row["IS_PRIMARY"]) for row in rows] == [
        (3, 5, "Y"),
        (2, 10, "N"),
    ]
    assert portal.call("crm.deal.get", {"id": 1})["CONTACT_ID"] == "3"


def test_items_set_replaces_the_whole_set(portal: Portal) -> None:
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 1}})
    assert (
        portal.call(
            "crm.deal.contact.items.set",
            {"id": 1, "items": [{"CONTACT_ID": 3}, {"CONTACT_ID": 2, "IS_PRIMARY": "Y"}]},
        )
        is True
    )
    assert portal.call("crm.deal.contact.items.get", {"id": 1}) == [
        {"CONTACT_ID": 3, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "N"},
        {"CONTACT_ID": 2, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
    ]
    item = portal.call("crm.item.get", {"entityTypeId": 2, "id": 1})["item"]
    assert (item["contactIds"], item["contactId"]) == ([3, 2], 2)


def test_items_set_with_nothing_clears(portal: Portal) -> None:
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 1}})
    assert portal.call("crm.deal.contact.items.set", {"id": 1, "items": []}) is True
    assert portal.call("crm.deal.contact.items.get", {"id": 1}) == []
    assert portal.call("crm.deal.get", {"id": 1})["CONTACT_ID"] is None


def test_deleting_a_contact_unlinks_it(portal: Portal) -> None:
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 1}})
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 2}})
    portal.call("crm.contact.delete", {"id": 1})
    assert portal.call("crm.deal.contact.items.get", {"id": 1}) == [
        {"CONTACT_ID": 2, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "Y"}
    ]


def test_contact_company_add(portal: Portal) -> None:
    assert portal.call("crm.contact.company.add", {"id": 1, "fields": {"COMPANY_ID": 1}}) is True
    assert portal.call("crm.contact.company.add", {"id": 1, "fields": {"COMPANY_ID": 1}}) is False
    assert portal.call("crm.contact.company.add", {"id": 1, "fields": {"COMPANY_ID": 2}}) is True
    assert portal.call("crm.contact.get", {"id": 1})["COMPANY_ID"] == "1"
    item = portal.call("crm.item.get", {"entityTypeId": 3, "id": 1})["item"]
    assert (item["companyId"], item["companyIds"]) == (1, [1, 2])


def test_contact_company_items_set_and_get(portal: Portal) -> None:
    assert (
        portal.call(
            "crm.contact.company.items.set",
            {"id": 2, "items": [{"COMPANY_ID": 2}, {"COMPANY_ID": 1, "SORT": 5}]},
        )
        is True
    )
    assert portal.call("crm.contact.company.items.get", {"id": 2}) == [
        {"COMPANY_ID": 1, "SORT": 5, "ROLE_ID": 0, "IS_PRIMARY": "N"},
        {"COMPANY_ID": 2, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
    ]
    portal.call("crm.company.delete", {"id": 2})
    assert portal.call("crm.contact.get", {"id": 2})["COMPANY_ID"] == "1"


def test_errors(portal: Portal) -> None:
    cases = [
        ({"id": 0, "fields": {"CONTACT_ID": 1}}, "The parameter 'ownerEntityID' is invalid or not defined."),
        ({"id": 9, "fields": {"CONTACT_ID": 1}}, "Not found."),
        ({"id": 1, "fields": {}}, "The parameter 'fields' is not valid."),
        ({"id": 1, "fields": {"CONTACT_ID": 99}}, "Not found."),
    ]
    for params, text in cases:
        error = portal.error("crm.deal.contact.add", params)
        assert (error.code, error.description, error.status) == ("", text, 400)


def test_links_are_deleted_one_by_one_or_all(portal: Portal) -> None:
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 2}})
    portal.call("crm.deal.contact.add", {"id": 1, "fields": {"CONTACT_ID": 3}})
    assert portal.call("crm.deal.contact.delete", {"id": 1, "fields": {"CONTACT_ID": 2}}) is True
    assert portal.call("crm.deal.contact.delete", {"id": 1, "fields": {"CONTACT_ID": 2}}) is False
    assert [r["CONTACT_ID"] for r in portal.call("crm.deal.contact.items.get", {"id": 1})] == [3]
    assert portal.call("crm.deal.contact.items.delete", {"id": 1}) is True
    assert portal.call("crm.deal.contact.items.get", {"id": 1}) == []
    assert set(portal.call("crm.deal.contact.fields")) == {"CONTACT_ID", "SORT", "ROLE_ID", "IS_PRIMARY"}


def test_a_company_sees_the_contacts_linked_to_it(portal: Portal) -> None:
    assert portal.call("crm.company.contact.add", {"id": 1, "fields": {"CONTACT_ID": 1}}) is True
    portal.call("crm.contact.company.add", {"id": 2, "fields": {"COMPANY_ID": 1}})
    assert [r["CONTACT_ID"] for r in portal.call("crm.company.contact.items.get", {"id": 1})] == [1, 2]
    assert portal.call("crm.contact.company.items.get", {"id": 1})[0]["COMPANY_ID"] == 1
    assert portal.call("crm.company.contact.delete", {"id": 1, "fields": {"CONTACT_ID": 1}}) is True
    assert portal.call("crm.company.contact.items.set", {"id": 1, "items": [{"CONTACT_ID": 3}]}) is True
    assert [r["CONTACT_ID"] for r in portal.call("crm.company.contact.items.get", {"id": 1})] == [3]
    assert portal.call("crm.company.contact.items.delete", {"id": 1}) is True
    assert portal.call("crm.company.contact.items.get", {"id": 1}) == []


def test_a_lead_has_contacts_too(portal: Portal) -> None:
    portal.call("crm.lead.add", {"fields": {"TITLE": "L"}})
    assert portal.call("crm.lead.contact.add", {"id": 1, "fields": {"CONTACT_ID": 2}}) is True
    assert portal.call("crm.lead.contact.items.get", {"id": 1})[0]["IS_PRIMARY"] == "Y"
    assert portal.call("crm.item.get", {"entityTypeId": 1, "id": 1})["item"]["contactId"] == 2
    portal.call("crm.contact.delete", {"id": 2})
    assert portal.call("crm.lead.contact.items.get", {"id": 1}) == []
