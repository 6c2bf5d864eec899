"""Reference substitution: every row of protocol §4.3 and the other quirks of §4."""

from __future__ import annotations

from typing import Any

import pytest

from b24sync.emulator.phpquery import parse_str
from b24sync.emulator.references import ResultStore, substitute


def store() -> ResultStore:
    """The earlier results of protocol §4.3: u, list and n."""
    refs = ResultStore()
    refs.maps["result"].update(
        {"u": {"ID": "7", "UF_DEPARTMENT": [1, 5]}, "list": [{"ID": "10"}, {"ID": "11"}], "n": 42}
    )
    refs.maps["total"]["list"] = 2
    refs.maps["next"]["list"] = 50
    refs.maps["time"]["u"] = {"duration": 0.25}
    refs.maps["error"]["bad"] = {"error": "NOT_FOUND", "error_description": "Not found"}
    return refs


def passed(query: str) -> dict[str, Any]:
    """What the method receives for a command query, as the server parses and rewrites it."""
    result = substitute(parse_str(query), store())
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # every row of the protocol §4.3 table
        ("ID=$result[u][ID]", {"ID": "7"}),
        ("ID=$result[u][UF_DEPARTMENT]", {"ID": [1, 5]}),
        ("ID=$result[u][UF_DEPARTMENT][1]", {"ID": 5}),
        ("ID=$result[list][49][ID]", {"ID": [{"ID": "10"}, {"ID": "11"}]}),
        ("ID=$result[missing][ID]", {"ID": store().maps["result"]}),
        ("T=Hello+$result[u][ID]+world", {"T": "Hello 7 world"}),
        ("T=x$result[u][ID]y", {"T": "x7"}),
        ("T=$result[u][ID],$result[n]", {"T": "7"}),
        ("T=$result[u][ID]+$result[n]", {"T": "7 42"}),
        ("T=Hello+$result[u][UF_DEPARTMENT]+world", {"T": "Hello $result[u][UF_DEPARTMENT] world"}),
        ("filter[>ID]=$result[list][1][ID]", {"filter": {">ID": "11"}}),
        ("fields[$result[u][ID]]=v", {"fields": {"$result[u": {"ID": "v"}}}),
    ],
)
def test_reference_table_rows(query: str, expected: dict[str, Any]) -> None:
    assert passed(query) == expected


def test_percent_encoded_references_work_because_parsing_comes_first() -> None:
    assert passed("ID=%24result%5Bu%5D%5BID%5D") == {"ID": "7"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("T=$result_total[list]", [{"ID": "10"}, {"ID": "11"}]),  # the tail _total is read from result
        ("T=$result", "$result"),
        ("T=$result[]", "$result[]"),
        ("T=$RESULT[u][ID]", None),  # prefix matched without case, lookup exact
        ("T=$total[list]", 2),
        ("T=$next[list]", 50),
        ("T=$time[u][duration]", 0.25),
        ("T=$error[bad][error]", "NOT_FOUND"),
        ("T=$next[missing]", {"list": 50}),
        ("T=$result[0][ID]", store().maps["result"]),
        ("T=$result[u][ID][0]", "7"),  # a string offset exists in PHP
        ("T=$result[n][0]", 42),
        ("T=Total:+$total[list]", "Total: 2"),
        ("T=a+$result[u][ID]\t$result[n]", "a 7\t42"),
    ],
)
def test_reference_forms_and_fallbacks(query: str, expected: Any) -> None:
    assert passed(query)["T"] == expected


def test_null_counts_as_missing_and_numeric_keys_work() -> None:
    refs = ResultStore()
    refs.maps["result"].update({"0": {"ID": "3", "X": None}})
    assert substitute({"a": "$result[0][ID]", "b": "$result[0][X]"}, refs) == {
        "a": "3",
        "b": {"ID": "3", "X": None},
    }


def test_values_at_any_depth_are_rewritten_and_non_strings_kept() -> None:
    refs = store()
    assert substitute({"a": {"b": ["$result[n]", 3]}}, refs) == {"a": {"b": [42, 3]}}
