"""crm.item.* against protocol §9.2, §9.5, §10: shapes, types, fm rules, errors, list paging."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_add_returns_the_full_item_with_int_ids_and_defaults(portal: Portal) -> None:
    portal.user_id = 2
    item = portal.call(
        "crm.item.add",
        {
            "entityTypeId": 2,
            "fields": {
                "opportunity": 999.99,
                "currencyId": "EUR",
                "noSuchField": "x",
                "begindate": "2024-06-18",
            },
        },
    )["item"]
    assert item["id"] == 1 and isinstance(item["id"], int)
    assert item["title"] == "Deal #1"
    assert item["assignedById"] == 2 and item["createdBy"] == 2 and item["updatedBy"] == 2
    assert item["createdTime"] == item["updatedTime"] == "2024-08-15T10:38:21+03:00"
    assert item["opportunity"] == 999.99 and item["currencyId"] == "EUR"
    # protocol §10.2: a date-only value comes back with the clock equal to the offset
    assert item["begindate"] == "2024-06-18T03:00:00+03:00"
    assert item["closedate"] == "2024-08-22T03:00:00+03:00"
    assert item["opened"] == "Y" and item["stageId"] == "NEW" and item["categoryId"] == 0
    assert item["companyId"] == 0 and item["contactIds"] == [] and item["leadId"] is None
    assert item["entityTypeId"] == 2
    assert "noSuchField" not in item


def test_numbers_come_back_as_numbers_and_entity_type_id_is_coerced(portal: Portal) -> None:
    item = portal.call(
        "crm.item.add", {"entityTypeId": "1", "fields": {"opportunity": "19000", "title": "L"}}
    )
    assert item["item"]["opportunity"] == 19000 and isinstance(item["item"]["opportunity"], int)
    assert portal.store.items(1)[0]["title"] == "L"


@pytest.mark.parametrize("method", ["crm.item.add", "crm.item.get", "crm.item.list", "crm.item.fields"])
def test_unknown_entity_type_is_not_found(portal: Portal, method: str) -> None:
    error = portal.error(method, {"entityTypeId": 7, "id": 1, "fields": {"title": "x"}})
    assert (error.code, error.description, error.status) == ("NOT_FOUND", "Smart process not found", 400)


def test_missing_parameters_are_engine_errors(portal: Portal) -> None:
    error = portal.error("crm.item.get", {"id": 1})
    assert (error.code, error.description) == ("100", "Could not find value for parameter {entityTypeId}")
    error = portal.error("crm.item.add", {"entityTypeId": 3})
    assert (error.code, error.description) == ("100", "Could not find value for parameter {fields}")


def test_get_update_delete_of_a_missing_item(portal: Portal) -> None:
    for method in ("crm.item.get", "crm.item.update", "crm.item.delete"):
        error = portal.error(method, {"entityTypeId": 3, "id": 99, "fields": {"name": "x"}})
        assert (error.code, error.description, error.status) == ("NOT_FOUND", "Element not found", 400)


def test_update_changes_only_given_fields_and_stamps_the_time(portal: Portal) -> None:
    added = portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"name": "Ann", "lastName": "Lee"}})
    portal.now += 60
    item = portal.call(
        "crm.item.update",
        {"entityTypeId": 3, "id": added["item"]["id"], "fields": {"lastName": "Smith", "id": 50}},
    )["item"]
    assert (item["id"], item["name"], item["lastName"]) == (1, "Ann", "Smith")
    assert item["updatedTime"] == "2024-08-15T10:39:21+03:00"
    assert item["createdTime"] == "2024-08-15T10:38:21+03:00"


def test_update_changing_nothing_keeps_the_stamp(portal: Portal) -> None:
    portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"name": "Ann"}})
    portal.now += 60
    portal.user_id = 2
    item = portal.call("crm.item.update", {"entityTypeId": 3, "id": 1, "fields": {"name": "Ann"}})["item"]
    assert (item["updatedTime"], item["updatedBy"]) == ("2024-08-15T10:38:21+03:00", 1)


def test_delete_answers_an_empty_array_and_removes(portal: Portal) -> None:
    portal.call("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}})
    assert portal.call("crm.item.delete", {"entityTypeId": 4, "id": 1}) == []
    assert portal.store.items(4) == []


def test_required_and_invalid_values_are_400_with_real_codes(portal: Portal) -> None:
    portal.store.require(3, "lastName")
    error = portal.error("crm.item.add", {"entityTypeId": 3, "fields": {"name": "Ann"}})
    assert (error.code, error.description, error.status) == (
        "CRM_FIELD_ERROR_REQUIRED",
        'The field "Last name" is required.',
        400,
    )
    error = portal.error("crm.item.add", {"entityTypeId": 2, "fields": {"opportunity": "lots"}})
    assert error.code == "CRM_FIELD_ERROR_VALUE_NOT_VALID" and error.status == 400
    error = portal.error("crm.item.add", {"entityTypeId": 2, "fields": {"contactIds": "5"}})
    assert error.code == "100" and error.description.startswith("Expected iterable value for multiple field")
    assert portal.store.items(2) == [] and portal.store.items(3) == []


def _fm(portal: Portal, item_id: int) -> list[dict[str, object]]:
    item = portal.call("crm.item.get", {"entityTypeId": 3, "id": item_id})["item"]
    return [{k: v for k, v in entry.items()} for entry in item["fm"]]


def test_fm_array_on_add_and_object_rules_on_update(portal: Portal) -> None:
    added = portal.call(
        "crm.item.add",
        {
            "entityTypeId": 3,
            "fields": {
                "name": "Ann",
                "fm": [
                    {"typeId": "PHONE", "valueType": "WORK", "value": "+491111"},
                    {"typeId": "EMAIL", "valueType": "HOME", "value": "ann@example.com"},
                ],
            },
        },
    )["item"]
    assert added["fm"] == [
        {"id": 1, "valueType": "WORK", "value": "+491111", "typeId": "PHONE"},
        {"id": 2, "valueType": "HOME", "value": "ann@example.com", "typeId": "EMAIL"},
    ]
    assert (added["hasPhone"], added["hasEmail"]) == ("Y", "Y")
    portal.call(
        "crm.item.update",
        {
            "entityTypeId": 3,
            "id": 1,
            "fields": {
                "fm": {
                    "n0": {"typeId": "PHONE", "valueType": "MOBILE", "value": "+492222"},
                    "1": {"typeId": "PHONE", "valueType": "WORK", "value": "+493333"},
                    "2": {"typeId": "EMAIL", "value": ""},
                }
            },
        },
    )
    assert _fm(portal, 1) == [
        {"id": 1, "valueType": "WORK", "value": "+493333", "typeId": "PHONE"},
        {"id": 3, "valueType": "MOBILE", "value": "+492222", "typeId": "PHONE"},
    ]
    item = portal.call("crm.item.get", {"entityTypeId": 3, "id": 1})["item"]
    assert item["hasEmail"] == "N"


def test_fm_without_type_id_does_nothing_and_array_on_update_appends(portal: Portal) -> None:
    portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"fm": [{"typeId": "PHONE", "value": "+1"}]}})
    portal.call("crm.item.update", {"entityTypeId": 3, "id": 1, "fields": {"fm": {"1": {"value": ""}}}})
    assert [entry["value"] for entry in _fm(portal, 1)] == ["+1"]
    portal.call(
        "crm.item.update",
        {"entityTypeId": 3, "id": 1, "fields": {"fm": [{"typeId": "PHONE", "value": "+2"}]}},
    )
    assert [entry["value"] for entry in _fm(portal, 1)] == ["+1", "+2"]


def test_fm_as_a_string_is_ignored(portal: Portal) -> None:
    item = portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"fm": "+4912345"}})["item"]
    assert item["fm"] == [] and item["hasPhone"] == "N"


def test_old_and_new_methods_share_one_table(portal: Portal) -> None:
    contact_id = portal.call(
        "crm.contact.add", {"fields": {"NAME": "Ann", "ORIGINATOR_ID": "mysync", "ORIGIN_ID": "42"}}
    )
    item = portal.call("crm.item.get", {"entityTypeId": 3, "id": contact_id})["item"]
    assert (item["name"], item["originatorId"], item["originId"]) == ("Ann", "mysync", "42")
    portal.call("crm.item.update", {"entityTypeId": 3, "id": contact_id, "fields": {"originId": "43"}})
    assert portal.call("crm.contact.get", {"id": contact_id})["ORIGIN_ID"] == "43"
    found = portal.call(
        "crm.item.list", {"entityTypeId": 3, "filter": {"=originatorId": "mysync", "=originId": "43"}}
    )
    assert [row["id"] for row in found["items"]] == [contact_id]


def test_fields_come_from_the_registry(portal: Portal) -> None:
    portal.store.add_userfield(2, "UF_CRM_3_DIGIT", "double")
    portal.store.require(2, "title")
    fields = portal.call("crm.item.fields", {"entityTypeId": 2})["fields"]
    assert fields["id"] == {
        "type": "integer",
        "isRequired": False,
        "isReadOnly": True,
        "isImmutable": False,
        "isMultiple": False,
        "isDynamic": False,
        "title": "ID",
        "upperName": "ID",
    }
    assert fields["title"]["isRequired"] is True
    assert fields["stageId"]["statusType"] == "DEAL_STAGE"
    assert fields["contactIds"]["isMultiple"] is True
    custom = fields["ufCrm3Digit"]
    assert custom["upperName"] == "UF_CRM_3_DIGIT" and custom["isDynamic"] is True


def test_custom_fields_by_camel_or_original_names(portal: Portal) -> None:
    portal.store.add_userfield(3, "UF_CRM_1747309879", "integer")
    item = portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"ufCrm_1747309879": "7"}})["item"]
    assert item["ufCrm_1747309879"] == 7
    item = portal.call("crm.item.get", {"entityTypeId": 3, "id": 1, "useOriginalUfNames": "Y"})["item"]
    assert item["UF_CRM_1747309879"] == 7 and "ufCrm_1747309879" not in item


def _many(portal: Portal, count: int) -> None:
    for index in range(count):
        portal.call(
            "crm.item.add",
            {"entityTypeId": 1, "fields": {"title": f"L{index + 1}", "opportunity": index % 7}},
        )


def test_list_pages_use_exact_offsets_with_total_and_next(portal: Portal) -> None:
    _many(portal, 120)
    first = portal.reply("crm.item.list", {"entityTypeId": 1, "select": ["id"], "order": {"id": "ASC"}})
    assert [row["id"] for row in first.result["items"]] == list(range(1, 51))
    assert (first.total, first.next) == (120, 50)
    shifted = portal.reply("crm.item.list", {"entityTypeId": 1, "order": {"id": "ASC"}, "start": 7})
    assert shifted.result["items"][0]["id"] == 8 and (shifted.total, shifted.next) == (120, 57)
    last = portal.reply("crm.item.list", {"entityTypeId": 1, "order": {"id": "ASC"}, "start": 100})
    assert len(last.result["items"]) == 20 and last.next is None


def test_list_without_count_and_keyset(portal: Portal) -> None:
    _many(portal, 120)
    seen: list[int] = []
    last = 0
    while True:
        page = portal.reply(
            "crm.item.list",
            {
                "entityTypeId": 1,
                "order": {"id": "ASC"},
                "filter": {">id": last},
                "start": -1,
                "select": ["id"],
            },
        )
        assert (page.total, page.next) == (0, None)
        rows = [row["id"] for row in page.result["items"]]
        seen.extend(rows)
        if len(rows) < 50:
            break
        last = rows[-1]
    assert seen == list(range(1, 121))


def test_list_accepts_upper_names_for_the_keyset(portal: Portal) -> None:
    _many(portal, 60)
    page = portal.reply(
        "crm.item.list",
        {"entityTypeId": 1, "order": {"ID": "ASC"}, "filter": {">ID": 55}, "select": ["id"], "start": -1},
    )
    assert [row["id"] for row in page.result["items"]] == [56, 57, 58, 59, 60]


def test_required_links_count_as_given(portal: Portal) -> None:
    portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"name": "A"}})
    portal.store.require(2, "contactIds")
    error = portal.error("crm.item.add", {"entityTypeId": 2, "fields": {"title": "x"}})
    assert error.code == "CRM_FIELD_ERROR_REQUIRED"
    item = portal.call("crm.item.add", {"entityTypeId": 2, "fields": {"contactIds": [1]}})["item"]
    assert item["contactIds"] == [1]


def test_list_select_filter_and_order(portal: Portal) -> None:
    _many(portal, 20)
    page = portal.reply(
        "crm.item.list",
        {
            "entityTypeId": 1,
            "select": ["title", "opportunity"],
            "filter": {">=opportunity": 5, "%title": "1"},
            "order": {"opportunity": "DESC"},
        },
    )
    assert page.result["items"] == [
        {"id": 14, "title": "L14", "opportunity": 6},
        {"id": 13, "title": "L13", "opportunity": 5},
    ]
    assert page.total == 2 and page.next is None
    ties = portal.call(
        "crm.item.list",
        {
            "entityTypeId": 1,
            "select": ["id"],
            "order": {"opportunity": "ASC"},
            "filter": {"@opportunity": [0, 1]},
        },
    )["items"]
    # equal sort keys fall back to ascending id
    assert [row["id"] for row in ties] == [1, 8, 15, 2, 9, 16]


def test_list_or_groups(portal: Portal) -> None:
    _many(portal, 10)
    rows = portal.call(
        "crm.item.list",
        {
            "entityTypeId": 1,
            "select": ["id"],
            "filter": {"0": {"logic": "OR", "0": {"=title": "L2"}, "1": {"=title": "L9"}}, "!=id": 9},
        },
    )["items"]
    assert rows == [{"id": 2}]


def test_list_rejects_unknown_filter_and_order_fields(portal: Portal) -> None:
    error = portal.error("crm.item.list", {"entityTypeId": 2, "filter": {">=NOPE": 1}})
    assert (error.code, error.description, error.status) == (
        "INVALID_ARG_VALUE",
        "Invalid filter: field 'NOPE' is not allowed in filter",
        400,
    )
    error = portal.error("crm.item.list", {"entityTypeId": 2, "order": {"nope": "ASC"}})
    assert error.description == "Invalid order: field 'nope' is not allowed in order"
    error = portal.error("crm.item.list", {"entityTypeId": 2, "order": {"title": "UP"}})
    assert error.description == (
        "Invalid order: allowed sort directions are ASC, DESC. But got 'UP' for field 'title'"
    )


def test_star_select_includes_fm_and_named_select_does_not(portal: Portal) -> None:
    portal.call("crm.item.add", {"entityTypeId": 3, "fields": {"fm": [{"typeId": "PHONE", "value": "+1"}]}})
    star = portal.call("crm.item.list", {"entityTypeId": 3, "select": ["*"]})["items"][0]
    assert star["fm"][0]["value"] == "+1"
    named = portal.call("crm.item.list", {"entityTypeId": 3, "select": ["id", "fm", "name"]})["items"][0]
    assert named == {"id": 1, "name": None}
