"""crm.item.productrow.* and crm.deal|lead.productrows.* against protocol §9.10."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    portal = Portal(request.param)
    portal.call("crm.deal.add", {"fields": {"TITLE": "Order"}})
    portal.call("crm.type.add", {"fields": {"title": "Orders", "entityTypeId": 1038}})
    portal.call("crm.item.add", {"entityTypeId": 1038, "fields": {"title": "x"}})
    return portal


ROWS = [
    {
        "productName": "Machine",
        "price": 100,
        "quantity": 2,
        "discountTypeId": 2,
        "discountRate": 20,
        "taxRate": 25,
        "taxIncluded": "Y",
    },
    {"productName": "Beans", "price": 10, "quantity": 3},
]


def test_set_replaces_the_rows_and_the_amount_follows_them(portal: Portal) -> None:
    rows = portal.call("crm.item.productrow.set", {"ownerType": "D", "ownerId": 1, "productRows": ROWS})[
        "productRows"
    ]
    machine = rows[0]
    assert (machine["ownerType"], machine["ownerId"], machine["productName"]) == ("D", 1, "Machine")
    # 100 with 25 % tax included: 80 without; before a 20 % discount: 100; with tax: 125
    assert (
        machine["priceExclusive"],
        machine["priceNetto"],
        machine["priceBrutto"],
        machine["discountSum"],
    ) == (
        80.0,
        100.0,
        125.0,
        20.0,
    )
    assert portal.call("crm.item.get", {"entityTypeId": 2, "id": 1})["item"]["opportunity"] == 230
    again = portal.call("crm.item.productrow.set", {"ownerType": "D", "ownerId": 1, "productRows": ROWS[1:]})
    assert [r["productName"] for r in again["productRows"]] == ["Beans"]
    listed = portal.call("crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": 1}})[
        "productRows"
    ]
    assert [r["productName"] for r in listed] == ["Beans"]


def test_a_manual_amount_stays(portal: Portal) -> None:
    portal.call(
        "crm.item.update",
        {"entityTypeId": 2, "id": 1, "fields": {"isManualOpportunity": "Y", "opportunity": 5}},
    )
    portal.call("crm.item.productrow.set", {"ownerType": "D", "ownerId": 1, "productRows": ROWS})
    assert portal.call("crm.item.get", {"entityTypeId": 2, "id": 1})["item"]["opportunity"] == 5


def test_smart_process_items_take_rows_under_their_hex_code(portal: Portal) -> None:
    portal.call("crm.item.productrow.set", {"ownerType": "T40e", "ownerId": 1, "productRows": ROWS[1:]})
    (row,) = portal.call("crm.item.productrow.list", {"filter": {"=ownerType": "T40e", "=ownerId": 1}})[
        "productRows"
    ]
    assert row["ownerType"] == "T40e"
    changed = portal.call("crm.item.productrow.update", {"id": row["id"], "fields": {"quantity": 5}})[
        "productRow"
    ]
    assert changed["quantity"] == 5 and changed["productName"] == "Beans"
    added = portal.call(
        "crm.item.productrow.add", {"fields": {"ownerType": "T40e", "ownerId": 1, "price": 1}}
    )["productRow"]
    assert added["productName"] == f"[{added['id']}]"
    assert portal.call("crm.item.productrow.get", {"id": added["id"]})["productRow"]["price"] == 1
    assert portal.call("crm.item.productrow.delete", {"id": added["id"]}) is None
    assert portal.call("crm.item.get", {"entityTypeId": 1038, "id": 1})["item"]["opportunity"] == 50


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"ownerType": "D", "ownerId": 99, "productRows": []}, "OWNER_NOT_FOUND"),
        ({"ownerType": "C", "ownerId": 1, "productRows": []}, "ENTITY_TYPE_NOT_SUPPORTED"),
        ({"ownerType": "T999", "ownerId": 1, "productRows": []}, "ENTITY_TYPE_NOT_SUPPORTED"),
    ],
)
def test_owners_that_take_no_rows_are_refused(portal: Portal, params: dict[str, object], code: str) -> None:
    assert portal.error("crm.item.productrow.set", params).code == code


def test_the_list_needs_its_owner_in_the_filter(portal: Portal) -> None:
    assert (
        portal.error("crm.item.productrow.list", {"filter": {"=ownerType": "D"}}).code == "INVALID_ARG_VALUE"
    )


def test_old_deal_methods_speak_upper_case_and_deleting_the_owner_drops_its_rows(portal: Portal) -> None:
    assert (
        portal.call(
            "crm.deal.productrows.set",
            {"id": 1, "rows": [{"PRODUCT_NAME": "Kit", "PRICE": 100.5, "QUANTITY": 2}]},
        )
        is True
    )
    (row,) = portal.call("crm.deal.productrows.get", {"id": 1})
    assert (row["ID"], row["OWNER_ID"], row["PRODUCT_NAME"], row["PRICE"], row["PRICE_ACCOUNT"]) == (
        row["ID"],
        "1",
        "Kit",
        100.5,
        "100.50",
    )
    assert isinstance(row["ID"], str)
    assert portal.error("crm.deal.productrows.get", {"id": 7}).description == "Not found."
    portal.call("crm.deal.delete", {"id": 1})
    assert portal.store.extras.product_rows == {}
