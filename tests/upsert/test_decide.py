from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.upsert.decide import Wanted, decide, requests_for, same_value
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
