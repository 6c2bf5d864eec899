"""crm.item.import and crm.item.batchImport against protocol §9.8b: one rule per test."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from b24sync.emulator import Emulator
from tests.helpers.emulator_portal import FORMS, Portal

# T0 of the portal helper is 2024-08-15T10:38:21+03:00
NOW = "2024-08-15T10:38:21+03:00"


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def _batch(portal: Portal, data: list[Any], type_id: int = 3) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = portal.call(
        "crm.item.batchImport", {"entityTypeId": type_id, "data": data}
    )["items"]
    return items


def test_batch_import_answers_the_new_ids_in_the_order_of_data(portal: Portal) -> None:
    items = _batch(portal, [{"name": "Ann"}, {"name": "Bob"}, {"name": "Cy"}])
    assert items == [{"item": {"id": 1}}, {"item": {"id": 2}}, {"item": {"id": 3}}]
    assert [record["name"] for record in portal.store.items(3)] == ["Ann", "Bob", "Cy"]


def test_a_failed_element_is_an_error_entry_and_the_others_are_still_created(portal: Portal) -> None:
    portal.store.require(3, "name")
    items = _batch(portal, [{"name": "Ann"}, {"lastName": "NoName"}, {"name": "Cy"}])
    assert items[0] == {"item": {"id": 1}}
    assert items[1] == {
        "error": "CRM_FIELD_ERROR_REQUIRED",
        "error_description": 'The field "First name" is required.',
    }
    assert items[2] == {"item": {"id": 2}}
    assert [record["name"] for record in portal.store.items(3)] == ["Ann", "Cy"]


def test_more_than_twenty_elements_are_refused_whole(portal: Portal) -> None:
    error = portal.error(
        "crm.item.batchImport", {"entityTypeId": 3, "data": [{"name": f"N{i}"} for i in range(21)]}
    )
    assert (error.code, error.description) == (
        "MAX_IMPORT_BATCH_SIZE_EXCEEDED",
        "You cannot import more than 20 items",
    )
    assert portal.store.items(3) == []
    assert len(_batch(portal, [{"name": f"N{i}"} for i in range(20)])) == 20


def test_entity_type_and_data_are_required(portal: Portal) -> None:
    assert portal.error("crm.item.batchImport", {"entityTypeId": 77, "data": [{}]}).description == (
        "Smart process not found"
    )
    assert portal.error("crm.item.batchImport", {"entityTypeId": 3}).description == (
        "Could not find value for parameter {data}"
    )
    assert portal.error("crm.item.batchImport", {"data": [{}]}).description == (
        "Could not find value for parameter {entityTypeId}"
    )


def test_an_imported_record_is_the_record_an_add_makes(portal: Portal) -> None:
    """No automation runs on import; the emulator runs none on add either, so the records are alike."""
    fields = {"title": "Order", "opportunity": 12.5, "currencyId": "EUR", "categoryId": 0}
    added = portal.call("crm.item.add", {"entityTypeId": 2, "fields": fields})["item"]["id"]
    imported = portal.call("crm.item.import", {"entityTypeId": 2, "fields": fields})
    assert imported == {"item": {"id": added + 1}}
    first, second = portal.store.items(2)
    assert {**second, "id": first["id"]} == first


def test_an_administrator_sets_the_system_fields(portal: Portal) -> None:
    portal.store.add_user("Carl", "Weber", "carl@example.com")
    items = _batch(
        portal,
        [
            {
                "name": "Old",
                "createdTime": "2020-01-01T09:00:00+03:00",
                "updatedTime": "2021-06-01T12:00:00+03:00",
                "createdBy": 4,
                "updatedBy": "2",
            }
        ],
    )
    record = portal.store.items(3)[0]
    assert items == [{"item": {"id": 1}}]
    assert record["createdTime"] == "2020-01-01T09:00:00+03:00"
    assert record["updatedTime"] == "2021-06-01T12:00:00+03:00"
    assert (record["createdBy"], record["updatedBy"], record["assignedById"]) == (4, 2, 1)


def test_created_time_alone_is_also_the_update_time(portal: Portal) -> None:
    _batch(portal, [{"name": "Old", "createdTime": "2020-01-01T09:00:00+03:00"}])
    record = portal.store.items(3)[0]
    assert record["createdTime"] == record["updatedTime"] == "2020-01-01T09:00:00+03:00"


def test_a_user_who_is_not_an_administrator_cannot_set_them(portal: Portal) -> None:
    portal.user_id = 2  # Anna, not an administrator
    items = _batch(portal, [{"name": "Old", "createdTime": "2020-01-01T09:00:00+03:00"}, {"name": "New"}])
    assert items[0] == {
        "error": "CRM_FIELD_ERROR_VALUE_NOT_VALID",
        "error_description": 'The field "Created on" has an invalid value.',
    }
    assert items[1] == {"item": {"id": 1}}
    assert portal.store.items(3)[0]["createdBy"] == 2


def test_created_time_increases_monotonically(portal: Portal) -> None:
    first = _batch(portal, [{"name": "A", "createdTime": "2020-01-01T09:00:00+03:00"}])
    same = _batch(portal, [{"name": "B", "createdTime": "2020-01-01T09:00:00+03:00"}])
    earlier = _batch(portal, [{"name": "C", "createdTime": "2019-12-31T23:59:59+03:00"}])
    assert first == [{"item": {"id": 1}}] and same == [{"item": {"id": 2}}]
    assert earlier[0]["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    # a record added now makes every earlier creation time impossible
    portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"name": "Now"}})
    assert _batch(portal, [{"name": "D", "createdTime": "2021-01-01T00:00:00+03:00"}])[0]["error"] == (
        "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    )
    # other entity types keep their own order
    assert _batch(portal, [{"title": "L", "createdTime": "2019-01-01T00:00:00+03:00"}], type_id=1) == [
        {"item": {"id": 1}}
    ]


def test_system_times_cannot_lie_in_the_future(portal: Portal) -> None:
    future = "2024-08-15T10:38:22+03:00"  # one second after the portal's now
    items = _batch(
        portal,
        [
            {"name": "A", "createdTime": future},
            {"name": "B", "createdTime": "2020-01-01T09:00:00+03:00", "updatedTime": future},
            {"name": "C", "createdTime": NOW, "updatedTime": NOW},
        ],
    )
    assert [item.get("error") for item in items] == [
        "CRM_FIELD_ERROR_VALUE_NOT_VALID",
        "CRM_FIELD_ERROR_VALUE_NOT_VALID",
        None,
    ]
    assert 'The field "Modified on"' in items[1]["error_description"]


def test_update_time_is_not_before_creation_time(portal: Portal) -> None:
    items = _batch(
        portal,
        [
            {
                "name": "A",
                "createdTime": "2020-01-02T00:00:00+03:00",
                "updatedTime": "2020-01-01T00:00:00+03:00",
            }
        ],
    )
    assert items[0]["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    assert portal.store.items(3) == []


def test_unreadable_system_values_are_invalid(portal: Portal) -> None:
    items = _batch(portal, [{"name": "A", "createdTime": "yesterday"}, {"name": "B", "createdBy": 999}])
    assert [item["error"] for item in items] == ["CRM_FIELD_ERROR_VALUE_NOT_VALID"] * 2


def test_batch_import_inside_a_batch_carries_a_thousand_records_per_request() -> None:
    emu = Emulator(operating_limit=None)
    session = emu.mount(requests.Session())
    cmd = {
        f"c{n}": "crm.item.batchImport?entityTypeId=3&"
        + "&".join(f"data[{i}][name]=N{n}-{i}" for i in range(20))
        for n in range(50)
    }
    answer = session.post(emu.webhook_url + "batch", json={"halt": 0, "cmd": cmd}).json()["result"]
    assert answer["result_error"] == []
    assert len(emu.store.items(3)) == 1000
    assert answer["result"]["c49"]["items"][-1] == {"item": {"id": 1000}}


def test_under_the_cloud_profile_each_element_costs_one_import() -> None:
    emu = Emulator(profile="cloud", latency_ms=0, sleep=lambda seconds: None, operating_limit=480)
    session = emu.mount(requests.Session())
    data = [{"name": f"N{i}"} for i in range(20)]
    block = session.post(
        emu.webhook_url + "crm.item.batchImport", json={"entityTypeId": 3, "data": data}
    ).json()["time"]
    assert block["processing"] == pytest.approx(20 * 0.065, abs=1e-6)
    assert block["operating"] == pytest.approx(20 * 0.065, abs=1e-6)
