"""PHP-compatible query parsing: pinned examples and a comparison with the real ``php`` binary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b24sync.emulator.phpjson import php_array, php_json_value, php_string
from b24sync.emulator.phpquery import Url, parse_str, parse_url, to_bytes, truthy, url_decode


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fields[TITLE]=a+b", {"fields": {"TITLE": "a b"}}),
        ("fields%5BTITLE%5D=John%26Martin", {"fields": {"TITLE": "John&Martin"}}),
        ("a.b=1&c d=2", {"a_b": "1", "c_d": "2"}),
        ("x[a.b]=1", {"x": {"a.b": "1"}}),
        ("select[]=ID&select[]=TITLE", {"select": {"0": "ID", "1": "TITLE"}}),
        ("a[b=1", {"a_b": "1"}),
        ("a[b.c=1", {"a_b_c": "1"}),
        ("a[x][y=1", {"a": {"x": "1"}}),
        ("a[-3]=x&a[]=y", {"a": {"-3": "x", "-2": "y"}}),
        ("a[5]=x&a[]=y", {"a": {"5": "x", "6": "y"}}),
        ("a[b]c=1", {"a": {"b": "1"}}),
        ("a[]=1&a=x&a[]=y", {"a": {"0": "y"}}),
        ("a%00b=1", {"a": "1"}),
        ("a[9223372036854775807]=1&a[]=2", {"a": {"9223372036854775807": "1"}}),
        ("a=1&a[x]=2", {"a": {"x": "2"}}),
        ("=1&&b", {"b": ""}),
        ("a[[x]]=1", {"a": {"[x": "1"}}),
        ("key[]=", {"key": {"0": ""}}),
        ("p=100%", {"p": "100%"}),
        ("a" + "[b]" * 70 + "=1&c=2", {"c": "2"}),
    ],
)
def test_parse_str_matches_php_examples(query: str, expected: dict[str, Any]) -> None:
    assert parse_str(query) == expected


def test_parse_str_obeys_an_optional_max_input_vars() -> None:
    assert parse_str("a=1&b=2&c=3", max_input_vars=2) == {"a": "1", "b": "2"}
    assert parse_str("a=1&b=2&c=3") == {"a": "1", "b": "2", "c": "3"}


def test_url_decode_keeps_a_stray_percent() -> None:
    assert url_decode(b"%41%4g%+") == b"A%4g% "


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("crm.lead.add?fields[TITLE]=a#b", Url("crm.lead.add", "fields[TITLE]=a")),
        ("user.current", Url("user.current", None)),
        ("user.current?", Url("user.current", "")),
        ("crm.item:add?x", Url("add", "x")),
        ("x?a\nb", Url("x", "a_b")),
        (
            "crm.item.list?filter[>DATE]=2024-01-01T10:00:00",
            Url("crm.item.list", "filter[>DATE]=2024-01-01T10:00:00"),
        ),
        ("a:80", Url(None, None)),
        ("a:65536", None),
        ("//host/y?z", Url("/y", "z")),
    ],
)
def test_parse_url_matches_php_examples(command: str, expected: Url | None) -> None:
    assert parse_url(command) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", False),
        ("", False),
        ("false", True),
        ("1", True),
        (0, False),
        (1, True),
        (None, False),
        (0.0, False),
        ([], False),
        ({}, False),
        ({"a": 1}, True),
        (True, True),
    ],
)
def test_truthy_is_php_boolean_casting(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


def test_php_array_shapes_like_json_encode() -> None:
    assert php_array({}) == []
    assert php_array({"0": "a", "1": "b"}) == ["a", "b"]
    assert php_array({"1": "a"}) == {"1": "a"}
    assert php_array({"0": "a", "2": "b"}) == {"0": "a", "2": "b"}
    assert php_json_value({"x": {}, "y": {"0": {"a": 1}}}) == {"x": [], "y": [{"a": 1}]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, "7"),
        (True, "1"),
        (False, ""),
        (1.5, "1.5"),
        (100.0, "100"),
        (1e25, "1.0E+25"),
        ("x", "x"),
        (None, None),
        ([1], None),
        ({"a": 1}, None),
    ],
)
def test_php_string_splices_scalars_only(value: Any, expected: str | None) -> None:
    assert php_string(value) == expected


# --- comparison with the real php binary, one process for every generated string ---

PHP_WORKER = r"""
error_reporting(0);
function enc($a) {
    $o = [];
    foreach ($a as $k => $v) { $o[] = [bin2hex((string)$k), is_array($v) ? enc($v) : bin2hex($v)]; }
    return $o;
}
while (($line = fgets(STDIN)) !== false) {
    $q = hex2bin(trim($line));
    parse_str($q, $r);
    $u = parse_url($q);
    $url = $u === false ? false : [isset($u["path"]) ? bin2hex($u["path"]) : null,
                                   isset($u["query"]) ? bin2hex($u["query"]) : null];
    echo json_encode(["str" => enc($r), "url" => $url]), "\n";
    fflush(STDOUT);
}
"""


@pytest.fixture(scope="module")
def php() -> Iterator[subprocess.Popen[str]]:
    if shutil.which("php") is None:
        if os.environ.get("CI"):
            pytest.fail("php is required in CI for the parse_str comparison")
        pytest.skip("php binary not found")
    process = subprocess.Popen(
        ["php", "-r", PHP_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


def _ask_php(process: subprocess.Popen[str], text: str) -> Any:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(to_bytes(text).hex() + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def _encoded(parsed: dict[str, Any]) -> list[Any]:
    return [
        [to_bytes(key).hex(), _encoded(value) if isinstance(value, dict) else to_bytes(value).hex()]
        for key, value in parsed.items()
    ]


TOKENS = [
    "a",
    "b",
    "Z",
    "0",
    "1",
    "5",
    "-",
    "[",
    "]",
    "=",
    "&",
    "%",
    "%5B",
    "%5D",
    "%00",
    "%2",
    "%ff",
    "%26",
    "%3D",
    "+",
    ".",
    " ",
    "#",
    "?",
    ":",
    "/",
    "//",
    "@",
    "\n",
    "\x00",
    "é",
    "$result",
    "_",
    "[]",
    "[0]",
    "[-1]",
    "9223372036854775808",
    "9223372036854775807",
    "crm.item.add",
    "80",
    "65536",
    "file:///",
]
queries = st.lists(st.sampled_from(TOKENS), max_size=24).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries)
def test_parse_str_and_parse_url_agree_with_php(php: subprocess.Popen[str], query: str) -> None:
    answer = _ask_php(php, query)
    assert _encoded(parse_str(query)) == answer["str"]
    url = parse_url(query)
    mine = (
        False
        if url is None
        else [
            None if url.path is None else to_bytes(url.path).hex(),
            None if url.query is None else to_bytes(url.query).hex(),
        ]
    )
    assert mine == answer["url"]
