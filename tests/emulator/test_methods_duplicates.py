"""crm.duplicate.findbycomm against protocol §9.6 and U16."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    portal = Portal(request.param)
    portal.call(
        "crm.contact.add",
        {"fields": {"PHONE": [{"VALUE": "+7 (900) 123-45-67"}], "EMAIL": [{"VALUE": "Ann@Example.com"}]}},
    )
    portal.call("crm.contact.add", {"fields": {"PHONE": [{"VALUE": "79001234567", "VALUE_TYPE": "MOBILE"}]}})
    portal.call("crm.company.add", {"fields": {"EMAIL": [{"VALUE": "ann@example.com"}]}})
    portal.call("crm.lead.add", {"fields": {"PHONE": [{"VALUE": "+1 555 0100"}]}})
    return portal


def test_phones_match_by_digits_and_ids_are_ints(portal: Portal) -> None:
    result = portal.call("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+79001234567"]})
    assert result == {"CONTACT": [1, 2]}


def test_emails_match_case_insensitively_across_types(portal: Portal) -> None:
    result = portal.call("crm.duplicate.findbycomm", {"type": "EMAIL", "values": ["ANN@example.COM"]})
    assert result == {"CONTACT": [1], "COMPANY": [1]}
    only = portal.call(
        "crm.duplicate.findbycomm", {"type": "EMAIL", "values": ["ann@example.com"], "entity_type": "COMPANY"}
    )
    assert only == {"COMPANY": [1]}


def test_no_hit_is_an_empty_array(portal: Portal) -> None:
    assert portal.call("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["123"]}) == []


def test_only_the_first_twenty_values_are_used(portal: Portal) -> None:
    values = [f"+{n}" for n in range(20)] + ["+15550100"]
    assert portal.call("crm.duplicate.findbycomm", {"type": "PHONE", "values": values}) == []
    assert portal.call("crm.duplicate.findbycomm", {"type": "PHONE", "values": values[1:]}) == {"LEAD": [1]}


def test_errors(portal: Portal) -> None:
    cases: list[tuple[Any, ...]] = [
        ({"values": ["x"]}, "Communication type is not defined."),
        ({"type": "WEB", "values": ["x"]}, "Communication type 'WEB' is not supported in current context."),
        ({"type": "PHONE"}, "Communication values is not defined."),
        (
            {"type": "PHONE", "values": ["1"], "entity_type": "DEAL"},
            "Entity type 'DEAL' is not supported in current context.",
        ),
    ]
    for params, text in cases:
        error = portal.error("crm.duplicate.findbycomm", params)
        assert (error.code, error.description, error.status) == ("", text, 400)
