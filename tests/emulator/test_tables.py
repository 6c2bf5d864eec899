"""Indexed tables: every list page equals a full scan's, however records were added, changed or removed."""

from __future__ import annotations

import copy
import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from b24sync.emulator.methods import lists
from b24sync.emulator.tables import Record, Table

_FIELDS = ("id", "code", "kind", "tags")
# values that meet every branch of the equality rule: numbers and numeric text, case, NULL and "", lists
_VALUES = st.one_of(
    st.sampled_from(["a", "A", "b", "", "1", "01", "1.0", "2", " 1", "x y"]),
    st.integers(-2, 3),
    st.sampled_from([1.0, 2.5, None, True, False]),
    st.lists(st.sampled_from(["a", "B", 1, "2"]), max_size=2),
)


def _resolve(name: str) -> tuple[str, lists.Coerce] | None:
    return (name, lambda raw: raw) if name in _FIELDS else None


def _page(table: Any, filter_: dict[str, Any], order: dict[str, str], start: int) -> tuple[Any, ...]:
    where = lists.parse_filter(filter_, _resolve, strict=True)
    page = lists.select_page(
        table, where, lists.parse_order(order, _resolve, strict=True), start, "exact", lists.field_value, "id"
    )
    return [row["id"] for row in page.rows], page.total, page.next


_record = st.fixed_dictionaries({"code": _VALUES, "kind": _VALUES, "tags": _VALUES})
_change = st.one_of(
    st.tuples(st.just("set"), st.integers(1, 40), st.sampled_from(["code", "kind"]), _VALUES),
    st.tuples(st.just("update"), st.integers(1, 40), _record),
    st.tuples(st.just("delete"), st.integers(1, 40)),
    st.tuples(st.just("pop"), st.integers(1, 40), st.sampled_from(["code", "kind"])),
    st.tuples(st.just("plain"), st.integers(41, 60), _record),
    st.tuples(
        st.just("look"),
    ),
)
_term = st.one_of(
    st.tuples(st.sampled_from(["=code", "=kind", "code", "=tags", "!=code", "%code"]), _VALUES),
    st.tuples(st.sampled_from(["@code", "@kind", "@id", "!@kind"]), st.lists(_VALUES, max_size=4)),
    st.tuples(st.sampled_from(["=id", ">id", ">=id", "<id", "<=id"]), st.integers(0, 62)),
)


def _apply(tables: tuple[Table, dict[int, dict[str, Any]]], change: tuple[Any, ...]) -> None:
    indexed, plain = tables
    kind, *args = change
    if kind == "look":
        # a lookup between changes builds and refreshes the indexes mid-sequence
        indexed.lookup("code", lists.index_key, ["a"])
        return
    record_id = args[0]
    if kind == "plain":
        indexed[record_id] = {"id": record_id, **args[1]}
        plain[record_id] = {"id": record_id, **args[1]}
        return
    if record_id not in plain:
        return
    if kind == "delete":
        del indexed[record_id]
        del plain[record_id]
    elif kind == "set":
        indexed[record_id][args[1]] = args[2]
        plain[record_id][args[1]] = args[2]
    elif kind == "update":
        indexed[record_id].update(args[1])
        plain[record_id].update(args[1])
    else:
        indexed[record_id].pop(args[1], None)
        plain[record_id].pop(args[1], None)


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(_record, max_size=40),
    changes=st.lists(_change, max_size=25),
    terms=st.lists(_term, max_size=3),
    order=st.sampled_from([{}, {"id": "DESC"}, {"code": "ASC"}, {"kind": "DESC", "id": "ASC"}]),
    start=st.sampled_from([-1, 0, 1, 50]),
)
def test_an_indexed_table_answers_like_a_full_scan(
    records: list[dict[str, Any]],
    changes: list[tuple[Any, ...]],
    terms: list[tuple[str, Any]],
    order: dict[str, str],
    start: int,
) -> None:
    indexed, plain = Table(), {}
    for record_id, fields in enumerate(records, start=1):
        indexed[record_id] = Record({"id": record_id, **fields})
        plain[record_id] = {"id": record_id, **fields}
    filter_ = dict(terms)
    _page(indexed, filter_, order, start)  # build the indexes before the changes
    for change in changes:
        _apply((indexed, plain), change)
    assert _page(indexed, filter_, order, start) == _page(dict(sorted(plain.items())), filter_, order, start)


def test_a_lookup_narrows_to_the_records_holding_the_value() -> None:
    table = Table({i: Record({"id": i, "code": str(i % 10)}) for i in range(1, 1001)})
    found = table.lookup("code", lists.index_key, [lists.index_key("7")])
    assert found.size == 100
    assert found.ascending()[:3] == [7, 17, 27]


def test_an_index_follows_changes_made_through_the_record() -> None:
    table = Table({1: Record({"id": 1, "code": "a"}), 2: Record({"id": 2, "code": "b"})})
    assert table.lookup("code", lists.index_key, ["b"]).ascending() == [2]
    table[1]["code"] = "B"
    table[2].update(code="c")
    assert table.lookup("code", lists.index_key, ["b"]).ascending() == [1, 2]  # 2 is stale, still a candidate
    assert _page(table, {"=code": "b"}, {}, 0) == ([1], 1, None)


def test_plain_dict_records_are_always_candidates() -> None:
    table = Table({1: {"id": 1, "code": "a"}, 2: Record({"id": 2, "code": "b"})})
    assert table.lookup("code", lists.index_key, ["zzz"]).ascending() == [1]


def test_ids_stay_ascending_whatever_the_insertion_order() -> None:
    table = Table()
    for record_id in (5, 2, 9, 7):
        table[record_id] = Record({"id": record_id})
    del table[9]
    table.pop(2)
    assert table.ordered_ids() == [5, 7]
    assert _page(table, {">id": 4}, {}, 0) == ([5, 7], 2, None)


def test_copies_are_plain_dicts_detached_from_the_table() -> None:
    table = Table({1: Record({"id": 1, "code": "a"})})
    for copied in (copy.deepcopy(table[1]), copy.copy(table[1]), pickle.loads(pickle.dumps(table[1]))):
        assert type(copied) is dict
        assert copied == {"id": 1, "code": "a"}
    assert type(copy.deepcopy(table)) is dict
    detached = table.pop(1)
    detached["code"] = "b"  # no longer in a table: nothing to tell
    assert not table


def test_every_dict_operation_keeps_ids_and_indexes_right() -> None:
    table = Table()
    table.update({3: Record({"id": 3, "code": "a"}), 1: Record({"id": 1, "code": "b"})})
    table |= {2: Record({"id": 2, "code": "a"})}
    assert table.setdefault(4, Record({"id": 4, "code": "a"}))["code"] == "a"
    assert table.setdefault(4, Record({"id": 4, "code": "zzz"}))["code"] == "a"
    assert table.ordered_ids() == [1, 2, 3, 4]
    assert _page(table, {"=code": "a"}, {}, 0) == ([2, 3, 4], 3, None)
    record = table[2]
    record |= {"code": "c"}
    table[3].setdefault("other", 1)
    del table[3]["code"]
    table[4].popitem()  # drops the last key, "code"
    assert _page(table, {"=code": "a"}, {}, 0) == ([], 0, None)
    table[1].clear()
    table[1].update(id=1, code="a")
    assert _page(table, {"=code": "a"}, {}, 0) == ([1], 1, None)
    assert table.pop(9, None) is None
    assert table.popitem()[0] == 4
    table[1] = Record({"id": 1, "code": "d"})  # replacing a record detaches the old one
    assert _page(table, {"@code": ["d", "c"]}, {}, 0) == ([1, 2], 2, None)
    table.clear()
    assert table.ordered_ids() == [] and _page(table, {"=code": "d"}, {}, 0) == ([], 0, None)


def test_many_changes_rebuild_an_index_without_changing_answers() -> None:
    table = Table({1: Record({"id": 1, "code": "0"})})
    for value in range(3000):
        table[1]["code"] = str(value)
        assert table.lookup("code", lists.index_key, [float(value)]).ascending() == [1]
    # stale entries were dropped by a rebuild: the index does not grow without bound
    assert table.lookup("code", lists.index_key, [0.0]).size == 0
