"""The batch rules of protocol §3-§5, run with a small fake command runner."""

from __future__ import annotations

from typing import Any

import pytest

from b24sync.emulator.batch import MAX_BATCH, Outcome, run_batch

TIME = {"duration": 0.0}


class Portal:
    """Fake methods: echo returns its params, fail fails, list pages, none returns null."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, method: str, params: dict[str, Any]) -> Outcome:
        self.calls.append((method, params))
        if method == "echo":
            return Outcome(result=params, time=TIME)
        if method == "list":
            return Outcome(result=[{"ID": "1"}], total=120, next=50, time=TIME)
        if method == "empty.list":
            return Outcome(result=[], total=0, time=TIME)
        if method == "none":
            return Outcome(result=None, time=TIME)
        if method == "fail":
            return Outcome(error={"error": "NOT_FOUND", "error_description": "Not found"})
        return Outcome(error={"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"})


def batch(params: dict[str, Any]) -> tuple[dict[str, Any], Portal]:
    portal = Portal()
    return run_batch(params, portal), portal


def test_commands_run_in_order_and_maps_keep_that_order() -> None:
    out, portal = batch({"cmd": {"b": "echo?x=1", "a": "echo?x=2", "c": "list"}})
    assert [params for _, params in portal.calls] == [{"x": "1"}, {"x": "2"}, {}]
    assert list(out["result"]) == ["b", "a", "c"]
    assert out["result_total"] == {"c": 120}
    assert out["result_next"] == {"c": 50}
    assert list(out["result_time"]) == ["b", "a", "c"]
    assert out["result_error"] == []


def test_command_parsing_is_php_parsing() -> None:
    out, _ = batch({"cmd": {"a": "echo?fields[TITLE]=a+b#c&x=1", "b": "echo?a.b=1&n[a.b]=2&v=%2B%25%26"}})
    assert out["result"]["a"] == {"fields": {"TITLE": "a b"}}
    assert out["result"]["b"] == {"a_b": "1", "n": {"a.b": "2"}, "v": "+%&"}


def test_method_names_are_case_insensitive_and_references_flow() -> None:
    out, portal = batch({"CMD": {"a": "ECHO?id=5", "b": "Echo?ref=$result[a][id]"}})
    assert [method for method, _ in portal.calls] == ["echo", "echo"]
    assert out["result"]["b"] == {"ref": "5"}


def test_over_fifty_commands_each_extra_gets_its_own_error() -> None:
    cmd = {f"c{i}": "none" for i in range(MAX_BATCH + 2)}
    out, portal = batch({"cmd": cmd})
    assert len(portal.calls) == MAX_BATCH
    assert len(out["result"]) == MAX_BATCH
    assert out["result_error"] == {
        key: {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
        for key in ("c50", "c51")
    }


def test_non_strings_are_skipped_but_count_toward_fifty() -> None:
    cmd: dict[str, Any] = {"n": 5, "m": ["echo"], **{f"c{i}": "none" for i in range(MAX_BATCH - 1)}}
    out, _ = batch({"cmd": cmd})
    assert "n" not in out["result"] and "m" not in out["result"]
    assert len(out["result"]) == MAX_BATCH - 2
    assert set(out["result_error"]) == {"c48"}


@pytest.mark.parametrize("method", ["download", "upload", "batch", "BATCH"])
def test_download_upload_and_nested_batch_are_refused(method: str) -> None:
    out, portal = batch({"cmd": {"a": f"{method}?cmd[x]=echo"}})
    assert portal.calls == []
    assert out["result_error"] == {
        "a": {
            "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "error_description": "Method is not allowed for batch usage",
        }
    }


@pytest.mark.parametrize(
    ("halt", "stops"),
    [
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("", False),
        ("false", True),
        (True, True),
        (False, False),
        (None, False),
    ],
)
def test_halt_uses_php_truthiness(halt: Any, stops: bool) -> None:
    out, _ = batch({"halt": halt, "cmd": {"a": "echo", "b": "fail", "c": "list", "d": "fail"}})
    if stops:
        # protocol §5.4: the halted commands are absent from all five maps
        assert out == {
            "result": {"a": []},
            "result_error": {"b": {"error": "NOT_FOUND", "error_description": "Not found"}},
            "result_total": [],
            "result_next": [],
            "result_time": {"a": TIME},
        }
    else:
        assert list(out["result"]) == ["a", "c"]
        assert list(out["result_error"]) == ["b", "d"]
        assert out["result_total"] == {"c": 120}


def test_halt_key_is_case_insensitive() -> None:
    out, _ = batch({"HaLt": 1, "cmd": {"b": "fail", "c": "echo"}})
    assert out["result"] == []


def test_failed_commands_are_absent_from_result_time_and_list_maps() -> None:
    out, _ = batch({"cmd": {"a": "fail", "b": "list"}})
    assert out["result"] == {"b": [{"ID": "1"}]}
    assert out["result_time"] == {"b": TIME}
    assert out["result_total"] == {"b": 120}


def test_empty_maps_are_lists_and_sequential_keys_give_json_lists() -> None:
    out, _ = batch({"cmd": ["echo?x=1", "none", "fail"]})
    assert out["result"] == [{"x": "1"}, None]
    assert out["result_error"] == {"2": {"error": "NOT_FOUND", "error_description": "Not found"}}
    assert out["result_total"] == [] and out["result_next"] == []
    assert out["result_time"] == [TIME, TIME]


def test_a_zero_row_list_keeps_total_zero_and_no_next() -> None:
    out, _ = batch({"cmd": {"e": "empty.list"}})
    assert out["result"] == {"e": []}
    assert out["result_total"] == {"e": 0}
    assert out["result_next"] == []


def test_a_null_result_is_kept() -> None:
    out, _ = batch({"cmd": {"a": "none"}})
    assert out["result"] == {"a": None}


def test_missing_or_odd_cmd_is_an_empty_batch() -> None:
    for params in ({}, {"cmd": "echo"}, {"cmd": 5}):
        out, portal = batch(params)
        assert out == {
            "result": [],
            "result_error": [],
            "result_total": [],
            "result_next": [],
            "result_time": [],
        }
        assert portal.calls == []


def test_a_failed_dependency_gives_dependents_the_fallback_without_halt() -> None:
    out, _ = batch({"cmd": {"a": "echo?id=1", "b": "fail", "c": "echo?x=$result[b][id]"}})
    # protocol §4.3 rule 4: a failed command is missing, so the whole result map is passed
    assert out["result"]["c"] == {"x": {"a": {"id": "1"}}}


def test_auth_inside_a_command_is_stripped_and_unparseable_urls_are_unknown_methods() -> None:
    out, portal = batch({"cmd": {"a": "echo?auth=x&access_token=y&k=1", "b": "a:65536"}})
    assert out["result"]["a"] == {"k": "1"}
    assert portal.calls[1] == ("", {})
    assert out["result_error"]["b"]["error"] == "ERROR_METHOD_NOT_FOUND"


def test_references_never_cross_requests() -> None:
    first, _ = batch({"cmd": {"a": "echo?id=1"}})
    second, _ = batch({"cmd": {"b": "echo?x=$result[a][id]"}})
    assert first["result"]["a"] == {"id": "1"}
    assert second["result"]["b"] == {"x": []}


def test_an_optional_max_input_vars_truncates_each_command() -> None:
    out = run_batch({"cmd": {"a": "echo?a=1&b=2&c=3"}}, Portal(), max_input_vars=2)
    assert out["result"] == {"a": {"a": "1", "b": "2"}}
