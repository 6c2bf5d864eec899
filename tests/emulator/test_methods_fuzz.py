"""Every method answers any parameters with a Reply or a MethodError, never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from b24sync.emulator.methods import registry
from b24sync.emulator.methods.base import MethodError, Reply
from tests.helpers.emulator_portal import Portal

METHODS = sorted(registry())
KEYS = st.sampled_from(
    [
        "fields",
        "FIELDS",
        "filter",
        "FILTER",
        "order",
        "select",
        "start",
        "id",
        "ID",
        "entityTypeId",
        "taskId",
        "items",
        "type",
        "values",
        "entity_type",
        "sort",
        "useOriginalUfNames",
        "TITLE",
        "NAME",
        "PHONE",
        "EMAIL",
        "fm",
        "typeId",
        "value",
        "VALUE",
        "DELETE",
        "n0",
        "1",
        "0",
        "logic",
        ">ID",
        "@id",
        "!@ID",
        "%title",
        ">=opportunity",
        "OPPORTUNITY",
        "BIRTHDATE",
        "birthdate",
        "createdTime",
        "CONTACT_ID",
        "CONTACT_IDS",
        "COMPANY_ID",
        "IS_PRIMARY",
        "SORT",
        "RESPONSIBLE_ID",
        "DEADLINE",
        "UF_CRM_TASK",
        "STATUS",
        "contactIds",
        "ORIGIN_ID",
        "=originId",
        "stageId",
        "categoryId",
        "AUDITORS",
        "NAME_SEARCH",
        "ACTIVE",
    ]
)
LEAVES = st.one_of(
    st.text(max_size=12),
    st.integers(-3, 300),
    st.sampled_from(
        [
            "Y",
            "N",
            "-1",
            "3",
            "2",
            "ASC",
            "desc",
            "*",
            "PHONE",
            "EMAIL",
            "2024-02-30",
            "9" * 40,
            "1e999",
            "0001-01-01T00:00:00+14:00",
            "31.12.9999 23:59:59",
            "D_1",
            "",
        ]
    ),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
PARAMS = st.dictionaries(KEYS, VALUES, max_size=5)


def _seeded(form: str) -> Portal:
    portal = Portal(form)
    portal.call("crm.contact.add", {"fields": {"NAME": "A", "PHONE": [{"VALUE": "+1"}]}})
    portal.call("crm.deal.add", {"fields": {"TITLE": "D", "CONTACT_IDS": [1]}})
    portal.call("crm.company.add", {"fields": {"TITLE": "C"}})
    portal.call("tasks.task.add", {"fields": {"TITLE": "T", "RESPONSIBLE_ID": 1}})
    return portal


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(METHODS), params=PARAMS, form=st.sampled_from(["json", "php"]))
def test_no_method_raises_anything_but_method_error(method: str, params: dict[str, Any], form: str) -> None:
    portal = _seeded(form)
    try:
        reply = portal.reply(method, params)
    except MethodError as error:
        assert isinstance(error.code, str) and error.status in (400, 401, 404)
        return
    assert isinstance(reply, Reply)
    json.dumps(reply.result, allow_nan=False)
    # whatever was written must still persist
    json.dumps(portal.store.to_json(), allow_nan=False)


def test_values_json_cannot_carry_are_refused() -> None:
    portal = Portal()
    for value in ("1e999", float("nan"), float("inf"), 10**400):
        error = portal.error("crm.deal.add", {"fields": {"OPPORTUNITY": value}})
        assert error.description == 'The field "Amount" has an invalid value.'
    for value in ("9" * 40, "0001-01-01T00:00:00+14:00", "31.12.9999 23:59:59", "2024-01-01T00:00:00+99:00"):
        assert portal.error("crm.item.add", {"entityTypeId": 2, "fields": {"begindate": value}}).code == (
            "CRM_FIELD_ERROR_VALUE_NOT_VALID"
        )
    assert portal.error("crm.item.get", {"entityTypeId": 2, "id": "9" * 40}).code == "100"
    assert portal.call("crm.contact.list", {"filter": {">DATE_CREATE": "0001-01-01"}}) == []


def test_multifield_entries_of_unknown_type_or_shape_are_skipped() -> None:
    portal = Portal()
    item = portal.call(
        "crm.item.add",
        {
            "entityTypeId": 3,
            "fields": {
                "fm": [
                    {"typeId": "FAX", "value": "1"},
                    {"typeId": "PHONE", "value": {"a": 1}},
                    {"typeId": "phone", "value": 5},
                ]
            },
        },
    )
    assert [(entry["typeId"], entry["value"]) for entry in item["item"]["fm"]] == [("PHONE", "5")]


TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=10)
LEAD_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "TITLE": TEXT,
        "NAME": TEXT,
        "OPPORTUNITY": st.one_of(st.integers(-(10**9), 10**9), st.floats(-1e12, 1e12, allow_nan=False)),
        "ORIGIN_ID": st.one_of(TEXT, st.integers(0, 10**6)),
        "BIRTHDATE": st.dates().map(str),
        "OPENED": st.sampled_from(["Y", "N", True, False]),
        "ASSIGNED_BY_ID": st.integers(1, 3),
        "PHONE": st.lists(
            st.fixed_dictionaries({"VALUE": TEXT, "VALUE_TYPE": st.sampled_from(["WORK", "HOME"])}),
            max_size=3,
        ),
    },
).filter(bool)  # an empty map is dropped by PHP encoding (§2.3)


@settings(max_examples=80, deadline=None)
@given(fields=LEAD_FIELDS, changes=LEAD_FIELDS)
def test_json_and_php_forms_store_the_same(fields: dict[str, Any], changes: dict[str, Any]) -> None:
    answers = []
    for form in ("json", "php"):
        portal = Portal(form)
        try:
            portal.call("crm.lead.add", {"fields": fields})
            portal.call("crm.lead.update", {"id": 1, "fields": changes})
        except MethodError as error:
            answers.append((error.code, error.description))
            continue
        answers.append(
            (
                portal.call("crm.lead.get", {"id": 1}),
                portal.call("crm.item.get", {"entityTypeId": 1, "id": 1}),
            )
        )
    assert answers[0] == answers[1]
