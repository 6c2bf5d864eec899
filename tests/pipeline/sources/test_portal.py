from __future__ import annotations

from typing import Any

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import AuthError
from b24sync.pipeline.sources import SourceError
from tests.helpers.sources import read_source

DEAL = 2


def hook(emulator: Emulator) -> B24Hook:
    return B24Hook(emulator.webhook_url, session=emulator.mount(requests.Session()), rate_limit=None)


def deals(client: B24Hook, count: int, stage: str = "NEW") -> None:
    for start in range(0, count, 50):
        commands = {
            f"d{i}": f"crm.item.add?entityTypeId={DEAL}&fields[title]=Deal%20{i}&fields[stageId]={stage}"
            for i in range(start, min(count, start + 50))
        }
        reply = client.send_batch(
            commands, halt=True, methods=dict.fromkeys(commands, "crm.item.add"), safe=False
        )
        assert not reply.errors


def portal(client: B24Hook, query: dict[str, Any]) -> Any:
    return read_source({"portal": query}, portal=lambda: client)


def test_crm_item_list_rows_are_the_items_read_by_the_chained_keyset_walk() -> None:
    client = hook(Emulator())
    deals(client, 1234)
    deals(client, 3, stage="WON")
    read = portal(
        client,
        {
            "method": "crm.item.list",
            "params": {"entityTypeId": DEAL, "filter": {"stageId": "NEW"}, "select": ["id", "title"]},
        },
    )
    assert [row["title"] for row in read.values] == [f"Deal {i}" for i in range(1234)]
    assert set(read.values[0]) == {"id", "title"}
    assert read.rows[16].origin == "crm.item.list row 17"
    # 25 pages chained in one request; the pages after the first short one are thrown away
    assert (read.summary.rows, read.summary.requests) == (1234, 1)
    assert read.summary.data == tuple(read.values)


def test_a_list_longer_than_one_chain_takes_another_request() -> None:
    client = hook(Emulator())
    deals(client, 2501)
    read = portal(client, {"method": "crm.item.list", "params": {"entityTypeId": DEAL, "select": ["id"]}})
    ids = [row["id"] for row in read.values]
    assert (len(ids), len(set(ids)), read.summary.requests) == (2501, 2501, 2)


def test_a_limit_stops_the_walk() -> None:
    client = hook(Emulator())
    deals(client, 120)
    read = portal(client, {"method": "crm.item.list", "params": {"entityTypeId": DEAL}, "limit": 60})
    assert len(read.values) == 60


def test_user_get_rows_are_the_users_paged_by_start() -> None:
    emulator = Emulator()
    for index in range(60):
        emulator.store.add_user(f"User{index}", "Test", f"u{index}@example.com")
    read = portal(hook(emulator), {"method": "user.get", "params": {"filter": {"ACTIVE": True}}})
    emails = [row["EMAIL"] for row in read.values]
    assert emails[:3] == ["admin@example.com", "anna@example.com", "boris@example.com"]
    assert len(emails) == len(set(emails)) == 63
    assert read.summary.requests == 2


def test_a_method_that_writes_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(SourceError, match=r"a portal source only reads: 'crm\.item\.add'") as caught:
        read_source({"portal": {"method": "crm.item.add"}})
    assert caught.value.key == ("portal", "method")


def test_a_refused_query_is_a_source_error_and_bad_credentials_stay_a_portal_error() -> None:
    emulator = Emulator()
    with pytest.raises(SourceError, match=r"the portal refused crm\.item\.list"):
        portal(hook(emulator), {"method": "crm.item.list", "params": {"entityTypeId": 999}})
    wrong = B24Hook(
        emulator.webhook_url.replace(emulator.webhook_url.rstrip("/").rsplit("/", 1)[1], "wrongcode"),
        session=emulator.mount(requests.Session()),
        rate_limit=None,
    )
    with pytest.raises(AuthError):
        portal(wrong, {"method": "crm.item.list", "params": {"entityTypeId": DEAL}})
