"""crm.status.add/get/update/delete/fields and crm.status.entity.* against protocol §9.9."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_an_added_status_is_listed_changed_and_deleted(portal: Portal) -> None:
    new_id = portal.call(
        "crm.status.add", {"fields": {"ENTITY_ID": "SOURCE", "STATUS_ID": "FAIR", "NAME": "Fair", "SORT": 5}}
    )
    assert isinstance(new_id, int)
    row = portal.call("crm.status.get", {"id": new_id})
    assert (row["STATUS_ID"], row["NAME"], row["SORT"], row["SYSTEM"]) == ("FAIR", "Fair", "5", "N")
    assert (
        portal.call("crm.status.update", {"id": new_id, "fields": {"NAME": "Trade fair", "STATUS_ID": "X"}})
        is True
    )
    listed = portal.call("crm.status.list", {"filter": {"ENTITY_ID": "SOURCE"}, "order": {"SORT": "ASC"}})
    assert (listed[0]["STATUS_ID"], listed[0]["NAME"]) == ("FAIR", "Trade fair")
    assert portal.call("crm.status.delete", {"id": new_id}) is True
    assert portal.error("crm.status.get", {"id": new_id}).description == "Not found"


def test_a_duplicate_and_a_system_row_are_refused(portal: Portal) -> None:
    fields = {"ENTITY_ID": "SOURCE", "STATUS_ID": "CALL", "NAME": "Call"}
    assert "already exists" in portal.error("crm.status.add", {"fields": fields}).description
    assert portal.error("crm.status.delete", {"id": 1}).description == "Can't delete system status"
    assert portal.call("crm.status.delete", {"id": 1, "params": {"FORCED": "Y"}}) is True
    assert all(row["ID"] != "1" for row in portal.call("crm.status.list"))


def test_entity_types_and_items(portal: Portal) -> None:
    types = {entry["ID"]: entry for entry in portal.call("crm.status.entity.types")}
    assert types["DEAL_STAGE"]["SEMANTIC_INFO"]["FINAL_SUCCESS_FIELD"] == "WON"
    assert "EMPLOYEES" in types and "HONORIFIC" in types
    items = portal.call("crm.status.entity.items", {"entityId": "EMPLOYEES"})
    assert items[0] == {"NAME": "fewer than 50", "SORT": 10, "STATUS_ID": "EMPLOYEES_1"}
    fields = portal.call("crm.status.fields")
    assert fields["ENTITY_ID"]["isRequired"] is True and fields["SYSTEM"]["isReadOnly"] is True
