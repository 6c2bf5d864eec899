"""Keyset walks: the commands of each request, and reading pages up to the first short one."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from b24sync.client.listing import KeysetWalk
from b24sync.client.results import CommandError
from b24sync.errors import ListPageError, UsageError


def _query(command: str) -> dict[str, list[str]]:
    return parse_qs(command.split("?", 1)[1])


def test_the_first_request_reads_one_page_and_later_ones_chain_fifty() -> None:
    walk = KeysetWalk("crm.item.list", {"entityTypeId": 3, "select": ["name"]}, "id", None, None)
    first = walk.next_commands()
    assert first is not None and list(first) == ["p0"]
    query = _query(first["p0"])
    assert query["filter[>id]"] == ["0"] and query["order[id]"] == ["ASC"] and query["start"] == ["-1"]
    assert query["select[0]"] == ["name"] and query["select[1]"] == ["id"]  # the id is always read
    pages = list(walk.read({"p0": {"items": [{"id": n} for n in range(1, 51)]}}, {}))
    assert [len(page) for page in pages] == [50]
    chain = walk.next_commands()
    assert chain is not None and len(chain) == 50
    assert _query(chain["p0"])["filter[>id]"] == ["50"]
    assert _query(chain["p1"])["filter[>id]"] == ["$result[p0][items][49][id]"]


def test_reading_stops_at_the_first_short_page_and_drops_the_rest() -> None:
    walk = KeysetWalk("crm.deal.list", None, "ID", None, None)
    walk.next_commands()
    walk.read({"p0": [{"ID": str(n)} for n in range(50)]}, {})
    walk.next_commands()
    results = {"p0": [{"ID": "a"}] * 50, "p1": [{"ID": "b"}] * 3, "p2": [{"ID": "garbage"}] * 50}
    pages = list(walk.read(results, {}))
    assert [len(page) for page in pages] == [50, 3]
    assert walk.next_commands() is None


def test_a_limit_cuts_the_rows_and_the_chain() -> None:
    walk = KeysetWalk("crm.deal.list", None, "ID", None, 70)
    walk.next_commands()
    list(walk.read({"p0": [{"ID": str(n)} for n in range(50)]}, {}))
    chain = walk.next_commands()
    assert chain is not None and len(chain) == 1  # 20 rows left: one more page
    pages = list(walk.read({"p0": [{"ID": str(n)} for n in range(50, 100)]}, {}))
    assert [len(page) for page in pages] == [20]
    assert walk.next_commands() is None


def test_tasks_filter_by_ID_but_their_rows_carry_id() -> None:
    walk = KeysetWalk("tasks.task.list", None, "ID", None, None)
    assert walk.items_key == "tasks" and walk.row_key == "id"


def test_a_failed_page_raises_with_its_key() -> None:
    walk = KeysetWalk("crm.deal.list", None, "ID", None, None)
    walk.next_commands()
    with pytest.raises(ListPageError) as raised:
        list(walk.read({}, {"p0": CommandError("ACCESS_DENIED", "no")}))
    assert (raised.value.key, raised.value.code) == ("p0", "ACCESS_DENIED")


@pytest.mark.parametrize(
    ("method", "items_key", "page", "message"),
    [
        ("crm.deal.list", None, {"items": []}, "returns an object, not a list: pass items_key"),
        ("x.list", "items", [{"ID": 1}], "pages hold no list under 'items'"),
    ],
)
def test_a_wrong_shape_says_which_argument_to_fix(
    method: str, items_key: str | None, page: object, message: str
) -> None:
    walk = KeysetWalk(method, None, "ID", items_key, None)
    walk.next_commands()
    with pytest.raises(UsageError, match=message):
        list(walk.read({"p0": page}, {}))


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(UsageError, match="limit must be a positive number"):
        KeysetWalk("crm.deal.list", None, "ID", None, -1)
