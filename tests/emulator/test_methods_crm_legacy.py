"""Old crm.lead|deal|contact|company.* against protocol §9.3, §9.5, §8.1, §10.1."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_add_returns_a_bare_int_and_get_strings(portal: Portal) -> None:
    deal_id = portal.call(
        "crm.deal.add",
        {
            "fields": {
                "TITLE": "Big",
                "OPPORTUNITY": 1000000,
                "PROBABILITY": 99,
                "ID": 77,
                "DATE_CREATE": "2020-01-01",
                "NO_SUCH": "x",
                "ORIGINATOR_ID": "erp",
                "ORIGIN_ID": 5,
            }
        },
    )
    assert deal_id == 1 and isinstance(deal_id, int)
    deal = portal.call("crm.deal.get", {"id": deal_id})
    assert deal["ID"] == "1"
    assert deal["OPPORTUNITY"] == "1000000.00" and deal["PROBABILITY"] == "99"
    assert deal["CATEGORY_ID"] == "0" and deal["CLOSED"] == "N" and deal["STAGE_ID"] == "NEW"
    assert deal["ASSIGNED_BY_ID"] == "1" and deal["COMPANY_ID"] is None
    assert deal["DATE_CREATE"] == "2024-08-15T10:38:21+03:00"
    assert (deal["ORIGINATOR_ID"], deal["ORIGIN_ID"]) == ("erp", "5")
    assert "NO_SUCH" not in deal


def test_parameter_names_are_case_insensitive(portal: Portal) -> None:
    assert portal.call("crm.contact.add", {"FIELDS": {"NAME": "A"}}) == 1
    assert portal.call("crm.contact.add", {"arFields": {"NAME": "B"}}) == 2
    assert portal.call("crm.contact.update", {"ID": 2, "Fields": {"LAST_NAME": "Lee"}}) is True
    assert portal.call("crm.contact.get", {"ID": "2"})["LAST_NAME"] == "Lee"


def test_empty_date_is_an_empty_string(portal: Portal) -> None:
    portal.call("crm.contact.add", {"fields": {"NAME": "A"}})
    assert portal.call("crm.contact.get", {"id": 1})["BIRTHDATE"] == ""


def test_locale_date_input_is_accepted(portal: Portal) -> None:
    portal.call("crm.contact.add", {"fields": {"BIRTHDATE": "11.11.2001"}})
    assert portal.call("crm.contact.get", {"id": 1})["BIRTHDATE"] == "2001-11-11T03:00:00+03:00"


def test_errors_have_an_empty_code_and_the_real_texts(portal: Portal) -> None:
    cases: list[tuple[Any, ...]] = [
        ("crm.contact.add", {"fields": "x"}, "", "Parameter 'fields' must be array."),
        ("crm.contact.get", {"id": 0}, "", "ID is not defined or invalid."),
        ("crm.contact.get", {}, "", "ID is not defined or invalid."),
        ("crm.contact.get", {"id": 5}, "", "Not found"),
        ("crm.contact.update", {"id": 5, "fields": {"NAME": "x"}}, "", "Contact is not found"),
        ("crm.contact.delete", {"id": 5}, "ERROR_CORE", "Element not found"),
    ]
    for method, params, code, text in cases:
        error = portal.error(method, params)
        assert (error.code, error.description, error.status) == (code, text, 400)


def test_update_and_delete_answer_true(portal: Portal) -> None:
    portal.call("crm.company.add", {"fields": {"TITLE": "Acme"}})
    assert portal.call("crm.company.update", {"id": 1, "fields": {"TITLE": "Acme 2"}}) is True
    assert portal.call("crm.company.get", {"id": 1})["TITLE"] == "Acme 2"
    assert portal.call("crm.company.delete", {"id": 1}) is True
    assert portal.store.items(4) == []


def _phones(portal: Portal) -> list[tuple[str, str, str]]:
    record = portal.call("crm.contact.get", {"id": 1})
    return [(entry["ID"], entry["VALUE_TYPE"], entry["VALUE"]) for entry in record.get("PHONE", [])]


def test_multifield_rules(portal: Portal) -> None:
    portal.call(
        "crm.contact.add",
        {
            "fields": {
                "PHONE": [{"VALUE": "+1111", "VALUE_TYPE": "WORK"}, {"VALUE": "+2222", "VALUE_TYPE": "HOME"}]
            }
        },
    )
    contact = portal.call("crm.contact.get", {"id": 1})
    assert contact["PHONE"][0] == {"ID": "1", "VALUE_TYPE": "WORK", "VALUE": "+1111", "TYPE_ID": "PHONE"}
    assert "EMAIL" not in contact and contact["HAS_PHONE"] == "Y" and contact["HAS_EMAIL"] == "N"
    # an entry without ID is appended, existing ones stay
    portal.call(
        "crm.contact.update", {"id": 1, "fields": {"PHONE": [{"VALUE": "+3333", "VALUE_TYPE": "MOBILE"}]}}
    )
    assert _phones(portal) == [("1", "WORK", "+1111"), ("2", "HOME", "+2222"), ("3", "MOBILE", "+3333")]
    portal.call(
        "crm.contact.update",
        {
            "id": 1,
            "fields": {
                "PHONE": [{"ID": "1", "VALUE": "+1000", "VALUE_TYPE": "WORK"}, {"ID": 2, "DELETE": "Y"}]
            },
        },
    )
    assert _phones(portal) == [("1", "WORK", "+1000"), ("3", "MOBILE", "+3333")]
    portal.call("crm.contact.update", {"id": 1, "fields": {"PHONE": [{"ID": 3, "VALUE": ""}]}})
    assert _phones(portal) == [("1", "WORK", "+1000")]
    portal.call("crm.contact.update", {"id": 1, "fields": {"PHONE": [{"ID": 1}]}})
    contact = portal.call("crm.contact.get", {"id": 1})
    assert "PHONE" not in contact and contact["HAS_PHONE"] == "N"


def test_multifields_keyed_by_id_or_n(portal: Portal) -> None:
    portal.call("crm.contact.add", {"fields": {"EMAIL": [{"VALUE": "a@example.com"}]}})
    portal.call(
        "crm.contact.update",
        {
            "id": 1,
            "fields": {
                "EMAIL": {
                    "n1": {"VALUE": "b@example.com", "VALUE_TYPE": "HOME"},
                    "1": {"VALUE": "c@example.com"},
                }
            },
        },
    )
    emails = portal.call("crm.contact.get", {"id": 1})["EMAIL"]
    assert [(entry["ID"], entry["VALUE"]) for entry in emails] == [
        ("1", "c@example.com"),
        ("2", "b@example.com"),
    ]


def _leads(portal: Portal, count: int) -> None:
    for index in range(count):
        portal.call(
            "crm.lead.add",
            {
                "fields": {
                    "TITLE": f"Lead {index + 1}",
                    "OPPORTUNITY": index * 100,
                    "ORIGINATOR_ID": "erp" if index % 2 else "web",
                }
            },
        )


def test_list_is_a_plain_array_with_legacy_start_rounding(portal: Portal) -> None:
    _leads(portal, 120)
    first = portal.reply("crm.lead.list", {"order": {"ID": "ASC"}, "select": ["ID"]})
    assert first.result[0] == {"ID": "1"} and len(first.result) == 50
    assert (first.total, first.next) == (120, 50)
    rounded = portal.reply("crm.lead.list", {"order": {"ID": "ASC"}, "select": ["ID"], "start": 25})
    assert rounded.result[0] == {"ID": "1"} and rounded.next == 50
    second = portal.reply("crm.lead.list", {"order": {"ID": "ASC"}, "select": ["ID"], "start": 60})
    assert second.result[0] == {"ID": "51"} and second.next == 100
    last = portal.reply("crm.lead.list", {"order": {"ID": "ASC"}, "select": ["ID"], "start": 100})
    assert len(last.result) == 20 and last.next is None and last.total == 120


def test_list_start_minus_one_and_keyset(portal: Portal) -> None:
    _leads(portal, 120)
    page = portal.reply(
        "crm.lead.list", {"order": {"ID": "ASC"}, "filter": {">ID": 100}, "start": -1, "select": ["ID"]}
    )
    assert [row["ID"] for row in page.result] == [str(i) for i in range(101, 121)]
    assert (page.total, page.next) == (0, None)
    descending = portal.reply("crm.lead.list", {"order": {"ID": "DESC"}, "start": -1, "select": ["ID"]})
    assert descending.result[0] == {"ID": "120"} and len(descending.result) == 50


def test_list_filters(portal: Portal) -> None:
    _leads(portal, 12)

    def ids(filter_: dict[str, object]) -> list[str]:
        return [
            row["ID"]
            for row in portal.call(
                "crm.lead.list", {"filter": filter_, "select": ["ID"], "order": {"ID": "ASC"}}
            )
        ]

    # OPPORTUNITY is stored as 1000.00 and compared numerically with "900"
    assert ids({">OPPORTUNITY": "900"}) == ["11", "12"]
    assert ids({"<=OPPORTUNITY": 100}) == ["1", "2"]
    assert ids({"@ID": [3, 5, 99]}) == ["3", "5"]
    assert ids({"!@ID": ["1", "2", "3"], "<ID": 6}) == ["4", "5"]
    assert ids({"%TITLE": "lead 1"}) == ["1", "10", "11", "12"]
    assert ids({"!ORIGINATOR_ID": "web", "<ID": 6}) == ["2", "4"]
    assert ids({"!=ORIGINATOR_ID": "erp", "<ID": 6}) == ["1", "3", "5"]
    assert ids({"ORIGINATOR_ID": "erp", ">=ID": 9}) == ["10", "12"]
    # protocol §9.3: old lists drop unknown filter keys
    assert len(ids({"NO_SUCH_FIELD": "x"})) == 12


def test_list_select_defaults_and_multifields_only_when_named(portal: Portal) -> None:
    portal.store.add_userfield(3, "UF_CRM_64A29A1CD5CC2", label="New Field")
    email = {"VALUE": "ann@example.com", "VALUE_TYPE": "WORK"}
    portal.call("crm.contact.add", {"fields": {"NAME": "Ann", "UF_CRM_64A29A1CD5CC2": "x", "EMAIL": [email]}})
    row = portal.call("crm.contact.list", {})[0]
    assert row["NAME"] == "Ann" and row["UF_CRM_64A29A1CD5CC2"] == "x" and "EMAIL" not in row
    row = portal.call("crm.contact.list", {"select": ["NAME", "EMAIL"]})[0]
    assert row == {
        "ID": "1",
        "NAME": "Ann",
        "EMAIL": [{"ID": "1", "VALUE_TYPE": "WORK", "VALUE": "ann@example.com", "TYPE_ID": "EMAIL"}],
    }
    row = portal.call("crm.contact.list", {"select": ["*"]})[0]
    assert "UF_CRM_64A29A1CD5CC2" not in row and "NAME" in row
    found = portal.call("crm.contact.list", {"filter": {"EMAIL": "ann@example.com"}, "select": ["ID"]})
    assert found == [{"ID": "1"}]
    assert portal.call("crm.contact.list", {"filter": {"EMAIL": "ann@"}, "select": ["ID"]}) == []


def test_fields_are_keyed_by_upper_name(portal: Portal) -> None:
    portal.store.add_userfield(3, "UF_CRM_64A29A1CD5CC2", label="New Field")
    fields = portal.call("crm.contact.fields", {})
    assert fields["ID"]["isReadOnly"] is True and "upperName" not in fields["ID"]
    assert fields["PHONE"]["type"] == "crm_multifield" and fields["PHONE"]["isMultiple"] is True
    custom = fields["UF_CRM_64A29A1CD5CC2"]
    assert (custom["title"], custom["listLabel"], custom["isDynamic"]) == (
        "UF_CRM_64A29A1CD5CC2",
        "New Field",
        True,
    )
    assert "PHONE" not in portal.call("crm.deal.fields", {})


def test_required_field_error_is_empty_coded(portal: Portal) -> None:
    portal.store.require(1, "name")
    error = portal.error("crm.lead.add", {"fields": {"TITLE": "x"}})
    assert (error.code, error.description, error.status) == ("", 'The field "First name" is required.', 400)


def test_deal_contact_ids_write_the_links(portal: Portal) -> None:
    portal.call("crm.contact.add", {"fields": {"NAME": "A"}})
    portal.call("crm.contact.add", {"fields": {"NAME": "B"}})
    portal.call("crm.deal.add", {"fields": {"CONTACT_IDS": [2, 1]}})
    assert portal.call("crm.deal.get", {"id": 1})["CONTACT_ID"] == "2"
    assert [row["CONTACT_ID"] for row in portal.call("crm.deal.contact.items.get", {"id": 1})] == [2, 1]
    item = portal.call("crm.item.get", {"entityTypeId": 2, "id": 1})["item"]
    assert (item["contactIds"], item["contactId"]) == ([2, 1], 2)
    portal.call("crm.deal.update", {"id": 1, "fields": {"CONTACT_IDS": [99, 1]}})
    assert [row["CONTACT_ID"] for row in portal.call("crm.deal.contact.items.get", {"id": 1})] == [1]
