"""crm.type.*, crm.category.* and smart-process items against protocol §9.9 and §9.10."""

from __future__ import annotations

import pytest

from b24sync.emulator.store import Store
from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def add_type(portal: Portal, **fields: object) -> dict[str, object]:
    result: dict[str, object] = portal.call("crm.type.add", {"fields": {"title": "Orders", **fields}})["type"]
    return result


def test_a_new_type_has_its_entity_type_id_a_pipeline_and_stages(portal: Portal) -> None:
    first = add_type(portal)
    assert (first["id"], first["entityTypeId"], first["title"]) == (1, 128, "Orders")
    assert first["isStagesEnabled"] == "N" and first["isSetOpenPermissions"] == "Y"
    second = add_type(portal, entityTypeId=1038, isLinkWithProductsEnabled="Y")
    assert second["entityTypeId"] == 1038 and second["isLinkWithProductsEnabled"] == "Y"
    (category,) = portal.call("crm.category.list", {"entityTypeId": 1038})["categories"]
    assert category["isDefault"] == "Y"
    stages = portal.call("crm.status.entity.items", {"entityId": f"DYNAMIC_1038_STAGE_{category['id']}"})
    assert [s["STATUS_ID"] for s in stages] == [
        f"DT1038_{category['id']}:{code}" for code in ("NEW", "PREPARATION", "CLIENT", "SUCCESS", "FAIL")
    ]
    assert portal.call("crm.type.getByEntityTypeId", {"entityTypeId": 1038})["type"]["id"] == second["id"]
    assert [t["entityTypeId"] for t in portal.call("crm.type.list")["types"]] == [128, 1038]


@pytest.mark.parametrize("entity_type_id", [127, 193, 1031, 1029])
def test_an_entity_type_id_out_of_range_is_refused(portal: Portal, entity_type_id: int) -> None:
    error = portal.error("crm.type.add", {"fields": {"title": "X", "entityTypeId": entity_type_id}})
    assert (error.code, error.description) == ("INVALID_ARG_VALUE", "entityTypeId is out of allowed range")


def test_a_taken_entity_type_id_and_a_missing_title_are_refused(portal: Portal) -> None:
    add_type(portal, entityTypeId=1038)
    assert (
        portal.error("crm.type.add", {"fields": {"title": "Y", "entityTypeId": 1038}}).code
        == "INVALID_ARG_VALUE"
    )
    assert portal.error("crm.type.add", {"fields": {"title": ""}}).code == "CRM_FIELD_ERROR_REQUIRED"
    assert portal.error("crm.type.get", {"id": 99}).code == "NOT_FOUND"


def test_items_of_a_smart_process_have_its_fields_and_start_in_the_first_stage(portal: Portal) -> None:
    add_type(portal, entityTypeId=1038)
    item = portal.call(
        "crm.item.add", {"entityTypeId": 1038, "fields": {"xmlId": "shop-1", "title": "Order 1", "name": "x"}}
    )["item"]
    assert item["xmlId"] == "shop-1" and item["title"] == "Order 1" and item["stageId"] == "DT1038_1:NEW"
    assert "name" not in item and "originId" not in item
    moved = portal.call(
        "crm.item.update", {"entityTypeId": 1038, "id": item["id"], "fields": {"stageId": "DT1038_1:SUCCESS"}}
    )
    assert moved["item"]["previousStageId"] == "DT1038_1:NEW" and moved["item"]["movedBy"] == 1
    listed = portal.call("crm.item.list", {"entityTypeId": 1038, "filter": {"=xmlId": "shop-1"}})["items"]
    assert [i["id"] for i in listed] == [item["id"]]
    untitled = portal.call("crm.item.add", {"entityTypeId": 1038, "fields": {"opened": "N"}})["item"]
    assert untitled["title"] == f"Orders #{untitled['id']}"
    fields = portal.call("crm.item.fields", {"entityTypeId": 1038})["fields"]
    assert (
        fields["stageId"]["statusType"] == "DYNAMIC_1038_STAGE_1" and fields["xmlId"]["upperName"] == "XML_ID"
    )
    assert (
        portal.error("crm.item.add", {"entityTypeId": 1040, "fields": {}}).description
        == "Smart process not found"
    )


def test_a_type_with_items_cannot_be_deleted_and_one_without_can(portal: Portal) -> None:
    created = add_type(portal)
    portal.call("crm.item.add", {"entityTypeId": 128, "fields": {"title": "x"}})
    assert portal.error("crm.type.delete", {"id": created["id"]}).code == "CRM_TYPE_HAS_ITEMS"
    portal.call("crm.item.delete", {"entityTypeId": 128, "id": 1})
    assert portal.call("crm.type.delete", {"id": created["id"]}) == []
    assert portal.call("crm.type.list")["types"] == []
    assert not any(r["ENTITY_ID"].startswith("DYNAMIC_128") for r in portal.call("crm.status.list"))


def test_deal_pipelines_get_c_prefixed_stages_and_category_zero_is_always_there(portal: Portal) -> None:
    (general,) = portal.call("crm.category.list", {"entityTypeId": 2})["categories"]
    assert (general["id"], general["isDefault"]) == (0, "Y")
    category = portal.call(
        "crm.category.add", {"entityTypeId": 2, "fields": {"name": "Wholesale", "sort": 100}}
    )["category"]
    stages = portal.call("crm.status.list", {"filter": {"ENTITY_ID": f"DEAL_STAGE_{category['id']}"}})
    assert stages[0]["STATUS_ID"] == f"C{category['id']}:NEW"
    deal = portal.call("crm.deal.add", {"fields": {"TITLE": "x", "CATEGORY_ID": category["id"]}})
    assert portal.call("crm.deal.get", {"id": deal})["STAGE_ID"] == f"C{category['id']}:NEW"
    assert (
        portal.error("crm.category.delete", {"entityTypeId": 2, "id": category["id"]}).code
        == "CATEGORY_HAS_ITEMS"
    )
    assert portal.error("crm.category.delete", {"entityTypeId": 2, "id": 0}).code == "DELETE_DEFAULT_CATEGORY"
    renamed = portal.call(
        "crm.category.update", {"entityTypeId": 2, "id": category["id"], "fields": {"name": "B2B"}}
    )
    assert renamed["category"]["name"] == "B2B"
    assert portal.error("crm.category.list", {"entityTypeId": 3}).code == "ENTITY_TYPE_NOT_SUPPORTED"


def test_a_deal_moved_to_a_won_stage_is_closed_with_its_stage_group(portal: Portal) -> None:
    deal = portal.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "x"}})["item"]
    assert (deal["stageSemanticId"], deal["isNew"], deal["closed"]) == ("P", "Y", "N")
    won = portal.call("crm.item.update", {"entityTypeId": 2, "id": deal["id"], "fields": {"stageId": "WON"}})[
        "item"
    ]
    assert (won["stageSemanticId"], won["isNew"], won["closed"]) == ("S", "N", "Y")


def test_smart_processes_survive_a_save_and_a_reload(portal: Portal) -> None:
    add_type(portal, entityTypeId=1038)
    portal.call("crm.item.add", {"entityTypeId": 1038, "fields": {"xmlId": "a"}})
    restored = Store.from_json(portal.store.to_json())
    assert restored.items(1038)[0]["xmlId"] == "a"
    assert restored.extras.type_by_entity(1038) is not None
    # a state file written before smart processes existed still loads
    old = portal.store.to_json()
    del old["extras"]
    assert Store.from_json(old).extras.types == {}
