"""crm.<entity>.userfield.add/get/update/delete, enumerations, and their values in crm.item."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_a_field_added_is_read_changed_and_deleted(portal: Portal) -> None:
    field_id = portal.call(
        "crm.company.userfield.add",
        {"fields": {"FIELD_NAME": "TIER", "USER_TYPE_ID": "string", "XML_ID": "tier"}},
    )
    row = portal.call("crm.company.userfield.get", {"id": field_id})
    assert (row["FIELD_NAME"], row["USER_TYPE_ID"], row["XML_ID"]) == ("UF_CRM_TIER", "string", "tier")
    update = {
        "SORT": "300",
        "SHOW_IN_LIST": "N",
        "MANDATORY": "Y",
        "SETTINGS": {"DEFAULT_VALUE": "A", "ROWS": 3},
    }
    assert portal.call("crm.company.userfield.update", {"id": field_id, "fields": update}) is True
    row = portal.call("crm.company.userfield.get", {"id": field_id})
    assert (row["SORT"], row["SHOW_IN_LIST"], row["MANDATORY"]) == ("300", "N", "Y")
    assert row["SETTINGS"] == {"DEFAULT_VALUE": "A", "ROWS": 3}
    assert portal.call("crm.item.fields", {"entityTypeId": 4})["fields"]["ufCrm_TIER"]["isRequired"] is True
    assert portal.call("crm.company.userfield.delete", {"id": field_id}) is True
    assert portal.call("crm.company.userfield.list") == []
    assert "ufCrm_TIER" not in portal.call("crm.item.fields", {"entityTypeId": 4})["fields"]


def test_an_enumeration_takes_option_ids(portal: Portal) -> None:
    field_id = portal.call(
        "crm.contact.userfield.add",
        {
            "fields": {
                "FIELD_NAME": "UF_CRM_SIZE",
                "USER_TYPE_ID": "enumeration",
                "LIST": [{"VALUE": "S"}, {"VALUE": "L"}],
            }
        },
    )
    options = portal.call("crm.contact.userfield.get", {"id": field_id})["LIST"]
    assert [o["VALUE"] for o in options] == ["S", "L"]
    described = portal.call("crm.item.fields", {"entityTypeId": 3})["fields"]["ufCrm_SIZE"]
    assert described["items"] == [{"ID": o["ID"], "VALUE": o["VALUE"]} for o in options]
    item = portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"ufCrm_SIZE": options[1]["ID"]}})[
        "item"
    ]
    assert item["ufCrm_SIZE"] == int(options[1]["ID"])
    error = portal.error("crm.item.add", {"entityTypeId": 3, "fields": {"ufCrm_SIZE": 999}})
    assert error.code == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    portal.call(
        "crm.contact.userfield.update",
        {"id": field_id, "fields": {"LIST": [{"ID": options[0]["ID"], "DEL": "Y"}]}},
    )
    assert [o["VALUE"] for o in portal.call("crm.contact.userfield.get", {"id": field_id})["LIST"]] == ["L"]


def test_only_an_administrator_edits_fields_and_names_are_unique(portal: Portal) -> None:
    portal.call("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "X"}})
    assert portal.error("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "UF_CRM_X"}}).code == "ERROR_CORE"
    assert portal.error("crm.deal.userfield.get", {"id": 99}).description == "The user field is not found."
    portal.user_id = 2
    assert (
        portal.error("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "Y"}}).description
        == "Access denied."
    )
