"""The shared list engine: operators, ordering, both paging styles, start=-1 (protocol §8, §9.2, §9.3)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b24sync.emulator.methods import lists
from b24sync.emulator.methods.base import MethodError


def _resolve(name: str) -> tuple[str, lists.Coerce] | None:
    return (name.lower(), lambda raw: raw) if name.lower() in ("id", "n", "s", "tags") else None


def _get(record: dict[str, Any], name: str) -> Any:
    return record.get(name)


def _table(count: int) -> dict[int, dict[str, Any]]:
    return {i: {"id": i, "n": i % 5, "s": f"name {i}", "tags": [f"t{i % 3}"]} for i in range(1, count + 1)}


def _ids(
    table: dict[int, dict[str, Any]],
    filter_: dict[str, Any],
    order: dict[str, str] | None = None,
    start: int = 0,
    paging: lists.Paging = "exact",
) -> list[int]:
    where = lists.parse_filter(filter_, _resolve, strict=True)
    page = lists.select_page(
        table, where, lists.parse_order(order or {}, _resolve, strict=True), start, paging, _get, "id"
    )
    return [row["id"] for row in page.rows]


def test_split_key_reads_the_longest_operator() -> None:
    assert lists.split_key(">=ID") == (">=", "ID")
    assert lists.split_key("!ID") == ("!=", "ID")
    assert lists.split_key("!=ID") == ("!=", "ID")
    assert lists.split_key("!@ID") == ("!@", "ID")
    assert lists.split_key("%TITLE") == ("%", "TITLE")
    assert lists.split_key("=%TITLE") == ("=%", "TITLE")
    assert lists.split_key("TITLE") == ("=", "TITLE")


def test_operators() -> None:
    table = _table(12)
    assert _ids(table, {"n": 0}) == [5, 10]
    assert _ids(table, {"n": "0"}) == [5, 10]
    assert _ids(table, {"!n": 0, "<id": 5}) == [1, 2, 3, 4]
    assert _ids(table, {">id": "10"}) == [11, 12]
    assert _ids(table, {">=id": 10, "<=id": 11}) == [10, 11]
    assert _ids(table, {"@id": ["2", 4, "x"]}) == [2, 4]
    assert _ids(table, {"!@n": [0, 1, 2, 3], "<id": 10}) == [4, 9]
    assert _ids(table, {"%s": "E 1"}) == [1, 10, 11, 12]
    assert _ids(table, {"=%s": "name 1%"}) == [1, 10, 11, 12]
    assert _ids(table, {"tags": "t0"}) == [3, 6, 9, 12]
    assert _ids(table, {"!tags": "t0", "<id": 5}) == [1, 2, 4]
    # an array with = is IN
    assert _ids(table, {"id": [3, 1]}) == [1, 3]


def test_numbers_compare_numerically_and_text_as_text() -> None:
    table = {1: {"id": 1, "s": "9"}, 2: {"id": 2, "s": "10"}, 3: {"id": 3, "s": "abc"}}
    assert _ids(table, {">s": "9", "<id": 3}) == [2]
    assert _ids(table, {"<=s": 9}) == [1]
    # a side that is not numeric makes it a text comparison
    assert _ids(table, {">s": 9}) == [2, 3]
    assert _ids(table, {">s": "a"}) == [3]


def test_order_with_ties_broken_by_id() -> None:
    table = _table(10)
    assert _ids(table, {}, {"n": "DESC"}) == [4, 9, 3, 8, 2, 7, 1, 6, 5, 10]
    assert _ids(table, {}, {"n": "ASC", "id": "DESC"}) == [10, 5, 6, 1, 7, 2, 8, 3, 9, 4]
    assert _ids(table, {}, {"id": "DESC"})[:3] == [10, 9, 8]


def test_legacy_paging_rounds_and_exact_paging_does_not() -> None:
    table = _table(130)
    where = lists.parse_filter({}, _resolve, strict=True)
    legacy = lists.select_page(table, where, [], 75, "legacy", _get, "id")
    assert (legacy.rows[0]["id"], legacy.total, legacy.next) == (51, 130, 100)
    exact = lists.select_page(table, where, [], 75, "exact", _get, "id")
    assert (exact.rows[0]["id"], exact.total, exact.next) == (76, 130, 125)
    tail = lists.select_page(table, where, [], 125, "exact", _get, "id")
    assert (len(tail.rows), tail.next) == (5, None)
    beyond = lists.select_page(table, where, [], 500, "legacy", _get, "id")
    assert (beyond.rows, beyond.total, beyond.next) == ([], 130, None)


def test_start_minus_one_counts_nothing() -> None:
    table = _table(130)
    where = lists.parse_filter({">id": 60}, _resolve, strict=True)
    page = lists.select_page(table, where, [("id", False)], -1, "legacy", _get, "id")
    assert [row["id"] for row in page.rows] == list(range(61, 111))
    assert (page.total, page.next) == (0, None)
    ordered = lists.select_page(table, where, [("n", True)], -1, "exact", _get, "id")
    assert len(ordered.rows) == 50 and ordered.rows[0]["n"] == 4


def test_strict_and_lenient_unknown_fields() -> None:
    with pytest.raises(MethodError) as caught:
        lists.parse_filter({"nope": 1}, _resolve, strict=True)
    assert caught.value.code == "INVALID_ARG_VALUE"
    assert lists.parse_filter({"nope": 1}, _resolve, strict=False).terms == ()
    with pytest.raises(MethodError) as caught:
        lists.parse_filter("x", _resolve, strict=False)
    assert caught.value.description == "Parameter 'filter' must be array."


def _naive(table: dict[int, dict[str, Any]], low: int, n_values: list[int], descending: bool) -> list[int]:
    rows = [r for r in table.values() if r["id"] > low and r["n"] not in n_values]
    rows.sort(key=lambda r: r["id"])
    rows.sort(key=lambda r: r["n"], reverse=descending)
    return [r["id"] for r in rows]


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(0, 180),
    low=st.integers(-5, 200),
    excluded=st.lists(st.integers(0, 4), max_size=3),
    descending=st.booleans(),
    start=st.integers(0, 200),
)
def test_pages_match_a_naive_sort(
    count: int, low: int, excluded: list[int], descending: bool, start: int
) -> None:
    table = _table(count)
    filter_: dict[str, Any] = {">id": low}
    if excluded:
        filter_["!@n"] = excluded
    expected = _naive(table, low, excluded, descending)
    order = {"n": "DESC" if descending else "ASC"}
    assert _ids(table, filter_, order, start, "exact") == expected[start : start + 50]
    legacy_start = start // 50 * 50
    assert _ids(table, filter_, order, start, "legacy") == expected[legacy_start : legacy_start + 50]
