"""crm.enum.*, crm.multifield.fields, crm.userfield.types and crm.stagehistory.list."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_owner_types_include_the_portals_smart_processes(portal: Portal) -> None:
    portal.call("crm.type.add", {"fields": {"title": "Orders", "entityTypeId": 1038}})
    rows = {row["ID"]: row for row in portal.call("crm.enum.ownertype")}
    assert rows[2] == {"ID": 2, "NAME": "Deal", "SYMBOL_CODE": "DEAL", "SYMBOL_CODE_SHORT": "D"}
    assert rows[1038] == {
        "ID": 1038,
        "NAME": "Orders",
        "SYMBOL_CODE": "DYNAMIC_1038",
        "SYMBOL_CODE_SHORT": "T40e",
    }


@pytest.mark.parametrize(
    "name", ["activitytype", "activitystatus", "contenttype", "settings.mode", "addresstype"]
)
def test_every_enumeration_has_int_ids_and_names(portal: Portal, name: str) -> None:
    rows = portal.call(f"crm.enum.{name}")
    assert rows and all(isinstance(r["ID"], int) and r["NAME"] for r in rows)


def test_field_descriptions_and_userfield_types(portal: Portal) -> None:
    assert set(portal.call("crm.multifield.fields")) == {"ID", "TYPE_ID", "VALUE", "VALUE_TYPE"}
    assert set(portal.call("crm.enum.fields")) == {"ID", "NAME", "SYMBOL_CODE", "SYMBOL_CODE_SHORT"}
    types = {row["ID"] for row in portal.call("crm.userfield.types")}
    assert {"string", "enumeration", "crm"} <= types


def test_stage_history_records_creation_and_every_move(portal: Portal) -> None:
    portal.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    portal.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "y"}})
    portal.call("crm.deal.update", {"id": 1, "fields": {"STAGE_ID": "WON"}})
    rows = portal.reply("crm.stagehistory.list", {"entityTypeId": 2})
    assert [(r["TYPE_ID"], r["STAGE_ID"], r["STAGE_SEMANTIC_ID"]) for r in rows.result["items"]] == [
        (1, "NEW", "P"),
        (2, "WON", "S"),
    ]
    assert rows.total == 2
    portal.call("crm.lead.add", {"fields": {"TITLE": "L"}})
    (lead,) = portal.call("crm.stagehistory.list", {"entityTypeId": 1, "select": ["ID", "STATUS_ID"]})[
        "items"
    ]
    assert lead == {"ID": 3, "STATUS_ID": "NEW"}
    moved = portal.call("crm.stagehistory.list", {"entityTypeId": 2, "filter": {"TYPE_ID": 2}})["items"]
    assert [r["OWNER_ID"] for r in moved] == [1]
    assert portal.error("crm.stagehistory.list", {"entityTypeId": 3}).code == "NOT_FOUND"
