from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.upsert.decide import (
    OnConflict,
    Wanted,
    create_fields,
    decide,
    fm_change,
    match_key,
    requests_for,
    same_value,
)
from b24sync.upsert.state import read_matches


@pytest.mark.parametrize(
    ("current", "desired"),
    [
        ("5", 5),
        (5, "5"),
        ("1000000.00", 1000000),
        ("99.90", "99.9"),
        (12.0, "12"),
        ("Y", True),
        ("N", False),
        (None, ""),
        ("", None),
        ([], None),
        ("2024-04-19T03:00:00+03:00", "2024-04-19"),
        ("2024-08-15T10:38:21+02:00", "2024-08-15T11:38:21+03:00"),
        ([4, 5], ["5", "4"]),
        ("C_12", "C_12"),
    ],
)
def test_values_bitrix24_stores_differently_compare_equal(current: object, desired: object) -> None:
    assert same_value(current, desired)


@pytest.mark.parametrize(
    ("current", "desired"),
    [
        ("5", 6),
        ("007", "7"),
        ("Y", False),
        (None, "x"),
        ("2024-04-19T03:00:00+03:00", "2024-04-20"),
        ("2024-08-15T10:38:21+02:00", "2024-08-15T10:38:21+03:00"),
        ([4, 5], [4]),
        ("abc", "ABC"),
    ],
)
def test_different_values_differ(current: object, desired: object) -> None:
    assert not same_value(current, desired)


def test_decide_create_update_unchanged_and_ambiguous() -> None:
    wanted = Wanted("c1", {"originId": "1"}, {"name": "Ann", "opened": True})
    assert decide(wanted, []).action == "create"
    same = decide(wanted, [{"id": 7, "name": "Ann", "opened": "Y"}])
    assert (same.action, same.record_id, dict(same.diff)) == ("unchanged", 7, {})
    changed = decide(wanted, [{"id": 7, "name": "Anna", "opened": "Y"}])
    assert (changed.action, dict(changed.diff)) == ("update", {"name": ("Anna", "Ann")})
    twice = decide(wanted, [{"id": 7}, {"id": 9}])
    assert (twice.action, twice.matches) == ("ambiguous", (7, 9))


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
def b24(emu: Emulator) -> Iterator[B24Hook]:
    client = B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)
    yield client
    client.close()


def test_reading_the_state_of_2600_records_takes_two_requests(b24: B24Hook, emu: Emulator) -> None:
    b24.call_batch_by_chunk(
        [
            [
                "crm.item.add",
                {"entityTypeId": 3, "fields": {"name": f"N{i}", "originatorId": "shop", "originId": str(i)}},
            ]
            for i in range(2600)
        ]
    )
    b24.call_batch(
        [["crm.item.add", {"entityTypeId": 3, "fields": {"originatorId": "other", "originId": "5"}}]]
    )
    before = emu.stats()["requests"]
    wanted = [
        Wanted(f"k{i}", {"originatorId": "shop", "originId": str(i)}, {"name": f"N{i}"}) for i in range(2700)
    ]
    found = read_matches(b24, 3, wanted, select=["name"])
    assert emu.stats()["requests"] - before == 2 == requests_for(2700)
    assert len(found) == 2600
    assert found[("5", "shop")][0]["name"] == "N5"
    assert ("5", "other") not in found


def test_more_than_a_page_of_matches_for_one_query_is_read_in_full(b24: B24Hook) -> None:
    b24.call_batch_by_chunk(
        [
            ["crm.item.add", {"entityTypeId": 3, "fields": {"originatorId": "shop", "originId": "dup"}}]
            for _ in range(70)
        ]
    )
    found = read_matches(b24, 3, [Wanted("k", {"originatorId": "shop", "originId": "dup"}, {})])
    # match keys follow the sorted match field names: (originId, originatorId)
    assert len(found[("dup", "shop")]) == 70


# -- multifields ---------------------------------------------------------------------------------

ANN = {"id": 11, "typeId": "EMAIL", "valueType": "HOME", "value": "Ann@Example.com"}
PHONE = {"id": 12, "typeId": "PHONE", "valueType": "WORK", "value": "+7 (999) 123-45-67"}


def test_fm_sends_only_what_the_record_lacks_keyed_n0_n1() -> None:
    change = fm_change(
        [ANN],
        [
            {"typeId": "email", "value": " ann@example.com "},
            {"typeId": "PHONE", "value": "79991234567"},
            {"typeId": "PHONE", "value": "+7 999 123 45 67"},
            {"typeId": "WEB", "value": "ann.example.com", "valueType": "home"},
            {"typeId": "PHONE", "value": ""},
        ],
        "add",
    )
    assert change is not None
    assert change.payload == {
        "n0": {"typeId": "PHONE", "valueType": "WORK", "value": "79991234567"},
        "n1": {"typeId": "WEB", "valueType": "HOME", "value": "ann.example.com"},
    }
    assert change.after == ("EMAIL Ann@Example.com", "PHONE 79991234567", "WEB ann.example.com")


def test_fm_already_present_in_another_spelling_is_no_change() -> None:
    desired = [{"typeId": "EMAIL", "value": "ANN@example.com"}, {"typeId": "PHONE", "value": "79991234567"}]
    assert fm_change([ANN, PHONE], desired, "add") is None
    assert fm_change([ANN, PHONE], desired, "replace") is None
    wanted = Wanted("ann", {"email": "ann@example.com"}, {"fm": desired})
    assert decide(wanted, [{"id": 1, "fm": [ANN, PHONE]}]).action == "unchanged"


def test_fm_replace_deletes_others_of_the_named_types_and_repeats_by_id_with_type_id() -> None:
    other = {"id": 13, "typeId": "EMAIL", "valueType": "WORK", "value": "old@example.com"}
    again = {"id": 14, "typeId": "EMAIL", "valueType": "WORK", "value": "ann@example.com"}
    web = {"id": 15, "typeId": "WEB", "valueType": "WORK", "value": "ann.example.com"}
    change = fm_change([ANN, other, again, web], [{"typeId": "EMAIL", "value": "ann@example.com"}], "replace")
    assert change is not None
    assert change.payload == {"13": {"typeId": "EMAIL", "value": ""}, "14": {"typeId": "EMAIL", "value": ""}}
    assert change.after == ("EMAIL Ann@Example.com", "WEB ann.example.com")
    assert (
        fm_change([ANN, other, again, web], [{"typeId": "EMAIL", "value": "ann@example.com"}], "add") is None
    )


def test_an_update_of_fm_keeps_the_payload_apart_from_the_diff() -> None:
    wanted = Wanted("ann", {"email": "ann@example.com"}, {"fm": [{"typeId": "PHONE", "value": "1"}]})
    decision = decide(wanted, [{"id": 7, "fm": [ANN]}])
    assert decision.action == "update" and decision.record_id == 7
    assert decision.sent == {"fm": {"n0": {"typeId": "PHONE", "valueType": "WORK", "value": "1"}}}
    assert decision.diff == {"fm": (["EMAIL Ann@Example.com"], ["EMAIL Ann@Example.com", "PHONE 1"])}


def test_a_create_writes_the_matched_email_into_fm_once() -> None:
    sent = create_fields(
        {"email": "ann@example.com", "originatorId": "shop"},
        {"name": "Ann", "fm": [{"typeId": "EMAIL", "value": "ANN@example.com"}]},
    )
    assert sent == {
        "originatorId": "shop",
        "name": "Ann",
        "fm": [{"typeId": "EMAIL", "valueType": "WORK", "value": "ANN@example.com"}],
    }
    assert create_fields({"phone": "+1 555"}, {}) == {
        "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+1 555"}]
    }


@pytest.mark.parametrize(
    ("on_conflict", "action", "record_id"),
    [("fail", "ambiguous", None), ("skip", "skip", None), ("oldest", "update", 3)],
)
def test_several_matches_follow_on_conflict(
    on_conflict: OnConflict, action: str, record_id: int | None
) -> None:
    wanted = Wanted("k", {"originId": "1"}, {"name": "Ann"}, on_conflict=on_conflict)
    decision = decide(wanted, [{"id": 9, "name": "x"}, {"id": 3, "name": "y"}])
    assert (decision.action, decision.record_id, decision.matches) == (action, record_id, (3, 9))


def test_match_keys_of_communications_are_normalised() -> None:
    assert match_key({"email": " Ann@X.org ", "phone": "+7 (999) 1"}, ["email", "phone"]) == (
        "ann@x.org",
        "79991",
    )
