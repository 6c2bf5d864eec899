"""crm.<type>.userfield.list against protocol §9.9: admin only, rows from the one field registry."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    portal = Portal(request.param)
    portal.store.add_userfield(3, "UF_CRM_1724412832", "date", label="Met on", sort=300)
    portal.store.add_userfield(3, "UF_CRM_5_TAGS", "string", multiple=True, label="Tags", sort=200)
    portal.store.add_userfield(2, "UF_CRM_7_NOTE", label="Note")
    portal.store.require(3, "ufCrm_1724412832")
    return portal


def test_rows_in_sort_order_without_labels(portal: Portal) -> None:
    reply = portal.reply("crm.contact.userfield.list", {})
    assert reply.total == 2 and reply.next is None
    assert [row["FIELD_NAME"] for row in reply.result] == ["UF_CRM_5_TAGS", "UF_CRM_1724412832"]
    assert reply.result[1] == {
        "ID": "1",
        "ENTITY_ID": "CRM_CONTACT",
        "FIELD_NAME": "UF_CRM_1724412832",
        "USER_TYPE_ID": "date",
        "XML_ID": None,
        "SORT": "300",
        "MULTIPLE": "N",
        "MANDATORY": "Y",
        "SHOW_FILTER": "E",
        "SHOW_IN_LIST": "Y",
        "EDIT_IN_LIST": "Y",
        "IS_SEARCHABLE": "N",
        "SETTINGS": {},
    }


def test_labels_only_with_lang_and_exact_filters(portal: Portal) -> None:
    rows = portal.call("crm.contact.userfield.list", {"filter": {"MULTIPLE": "Y", "LANG": "en"}})
    assert [(row["FIELD_NAME"], row["EDIT_FORM_LABEL"]) for row in rows] == [("UF_CRM_5_TAGS", "Tags")]
    assert [row["FIELD_NAME"] for row in portal.call("crm.deal.userfield.list", {})] == ["UF_CRM_7_NOTE"]
    assert portal.call("crm.lead.userfield.list", {}) == []


def test_the_registry_is_shared_with_fields_methods(portal: Portal) -> None:
    fields = portal.call("crm.item.fields", {"entityTypeId": 3})["fields"]
    assert fields["ufCrm_1724412832"]["isRequired"] is True and fields["ufCrm5Tags"]["isMultiple"] is True


def test_needs_an_administrator(portal: Portal) -> None:
    portal.user_id = 2
    error = portal.error("crm.contact.userfield.list", {})
    assert (error.code, error.description, error.status) == ("", "Access denied.", 400)
