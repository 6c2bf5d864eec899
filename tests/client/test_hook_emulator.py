"""The client against the emulator: the b24jssdk call family end to end, in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator


@pytest.fixture
def emu() -> Emulator:
    return Emulator()


@pytest.fixture
def b24(emu: Emulator) -> Iterator[B24Hook]:
    client = B24Hook.from_webhook_url(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)
    yield client
    client.close()


def add_contacts(b24: B24Hook, count: int) -> None:
    if count == 0:
        return
    calls = [["crm.item.add", {"entityTypeId": 3, "fields": {"name": f"N{i}"}}] for i in range(count)]
    assert b24.call_batch_by_chunk(calls).is_success


def test_seed_example_named_commands(b24: B24Hook) -> None:
    result = b24.call_batch(
        {"ServerTime": {"method": "server.time"}, "UserProfile": ["user.current", {}]}, halt_on_error=True
    )
    assert result.is_success
    data = result.get_data()
    assert set(data) == {"ServerTime", "UserProfile"}
    assert data["UserProfile"]["ID"] == "1"


def test_links_inside_a_batch_are_resolved_by_the_portal(b24: B24Hook, emu: Emulator) -> None:
    result = b24.call_batch(
        {
            "FirstDeal": ["crm.item.add", {"entityTypeId": 2, "fields": {"title": "First deal"}}],
            "DealTasks": [
                "tasks.task.add",
                {
                    "fields": {
                        "TITLE": "Call",
                        "RESPONSIBLE_ID": 1,
                        "UF_CRM_TASK": ["D_$result[FirstDeal][item][id]"],
                    }
                },
            ],
        }
    )
    assert result.is_success, result.get_error_messages()
    deal_id = result.get_data()["FirstDeal"]["item"]["id"]
    assert emu.store.tasks()[0]["ufCrmTask"] == [f"D_{deal_id}"]


def test_halt_reports_failures_and_unreached_commands_from_a_real_portal(b24: B24Hook, emu: Emulator) -> None:
    result = b24.call_batch(
        [
            ["crm.item.add", {"entityTypeId": 3, "fields": {"name": "Ann"}}],
            ["crm.item.get", {"entityTypeId": 3, "id": 999}],
            ["crm.item.add", {"entityTypeId": 3, "fields": {"name": "Bob"}}],
        ]
    )
    assert result.get_data()[0]["item"]["name"] == "Ann"
    assert result.get_data()[1:] == [None, None]
    assert result.get_errors()["1"].code == "NOT_FOUND"
    assert result.not_executed == ["2"]
    assert len(emu.store.items(3)) == 1


def test_halt_off_runs_everything(b24: B24Hook, emu: Emulator) -> None:
    result = b24.call_batch(
        [
            ["crm.item.get", {"entityTypeId": 3, "id": 999}],
            ["crm.item.add", {"entityTypeId": 3, "fields": {"name": "Bob"}}],
        ],
        halt_on_error=False,
    )
    assert list(result.get_errors()) == ["0"] and result.not_executed == []
    assert len(emu.store.items(3)) == 1


def test_call_batch_by_chunk_over_120_commands(b24: B24Hook, emu: Emulator) -> None:
    add_contacts(b24, 120)
    assert len(emu.store.items(3)) == 120
    assert emu.stats()["requests"] == 3


@pytest.mark.parametrize("count", [0, 1, 49, 50, 100, 130])
def test_fast_list_reads_every_row_once_in_few_requests(b24: B24Hook, emu: Emulator, count: int) -> None:
    add_contacts(b24, count)
    before = emu.stats()["requests"]
    result = b24.call_fast_list_method(
        "crm.item.list", {"entityTypeId": 3, "select": ["id", "name"]}, id_key="id"
    )
    assert result.is_success
    ids = [row["id"] for row in result.get_data()]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == count
    # one request for the first page, then chains of up to 50 pages per request
    assert emu.stats()["requests"] - before == (1 if count < 50 else 2)


def test_fast_list_on_a_legacy_list_and_a_limit(b24: B24Hook) -> None:
    for i in range(0, 170, 50):
        b24.call_batch_by_chunk(
            [["crm.contact.add", {"fields": {"NAME": f"C{j}"}}] for j in range(i, min(i + 50, 170))]
        )
    pages = list(b24.fetch_list_method("crm.contact.list", {"select": ["ID", "NAME"]}, limit=120))
    assert [len(p) for p in pages] == [50, 50, 20]
    rows = [row for page in pages for row in page]
    assert [row["NAME"] for row in rows[:2]] == ["C0", "C1"]
    assert len({row["ID"] for row in rows}) == 120


def test_fast_list_of_tasks_reads_ids_from_lower_case_rows(b24: B24Hook) -> None:
    b24.call_batch_by_chunk(
        [["tasks.task.add", {"fields": {"TITLE": f"T{i}", "RESPONSIBLE_ID": 1}}] for i in range(60)]
    )
    rows = b24.call_fast_list_method("tasks.task.list", {"select": ["ID", "TITLE"]}).get_data()
    assert len(rows) == 60 and len({r["id"] for r in rows}) == 60


def test_a_failing_list_is_reported_not_hidden(b24: B24Hook) -> None:
    result = b24.call_fast_list_method(
        "crm.item.list", {"entityTypeId": 3, "filter": {"noSuchField": 1}}, id_key="id"
    )
    assert not result.is_success
    assert result.get_errors()["p0"].code == "INVALID_ARG_VALUE"


def test_the_real_server_on_loopback(emu: Emulator) -> None:
    with emu.serve() as url:
        client = B24Hook.from_webhook_url(url, rate_limit=None)
        assert client.call_method("server.time").is_success
        assert client.call_batch([["user.current"]]).is_success
        client.close()
