from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b24sync.client.encoding import (
    EncodingError,
    Hole,
    batch_payload,
    compact_json,
    compile_skeleton,
    encode_command,
    encode_query,
    response_map,
    response_maps,
)
from tests.helpers.php import PhpParseStr


def test_reference_example_encodes_exactly_like_php_http_build_query() -> None:
    params = {
        "order": {"ID": "ASC"},
        "filter": {">ID": "$result[p0][49][ID]", "CATEGORY_ID": 0},
        "select": ["ID", "TITLE"],
        "start": -1,
    }
    assert encode_query(params) == (
        "order%5BID%5D=ASC&filter%5B%3EID%5D=%24result%5Bp0%5D%5B49%5D%5BID%5D"
        "&filter%5BCATEGORY_ID%5D=0&select%5B0%5D=ID&select%5B1%5D=TITLE&start=-1"
    )


def test_characters_the_portal_would_misread_are_percent_encoded() -> None:
    # protocol §2.2: '#' ends the query, '+' is a space, '&' splits, '%' escapes
    assert encode_query({"t": "a#b+c&d=e%f g?~"}) == "t=a%23b%2Bc%26d%3De%25f%20g%3F~"


def test_booleans_are_y_and_n_and_empty_values_clear_a_field() -> None:
    assert encode_query({"f": {"OPENED": True, "EXPORT": False}}) == "f%5BOPENED%5D=Y&f%5BEXPORT%5D=N"
    assert encode_query({"a": None, "b": [], "c": {}}) == "a=&b=&c="


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000"),
        (0.1, "0.1"),
        (-0.0, "0"),
        (2.50, "2.5"),
        (Decimal("1000000.00"), "1000000"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.000"), "0"),
        (12345678901234567890, "12345678901234567890"),
    ],
)
def test_numbers_are_plain_decimal_text(number: float | Decimal | int, text: str) -> None:
    assert encode_query({"n": number}) == f"n={text}"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity")])
def test_non_finite_numbers_are_refused(bad: float | Decimal) -> None:
    with pytest.raises(EncodingError, match="finite number"):
        encode_query({"n": bad})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"a.b": 1}, "top-level names"),
        ({"a b": 1}, "top-level names"),
        ({"a[b": 1}, "top-level names"),
        ({"": 1}, "top-level names"),
        ({"f": {"x]y": 1}}, "nested keys"),
        ({"f": {"": 1}}, "nested keys"),
        ({"f": {"a\0": 1}}, "nested keys"),
        ({"f": {" ": 1}}, "single blank"),
        ({"f": {"\t": 1}}, "single blank"),
        ({"f": object()}, "cannot be sent"),
        ({"f": {1.5: 1}}, "text or an integer"),
    ],
)
def test_what_php_cannot_decode_back_is_refused_with_a_reason(params: Any, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        encode_query(params)


def test_a_command_over_max_input_vars_is_refused_not_truncated() -> None:
    assert encode_query({"filter": {"@ID": list(range(1000))}}).count("&") == 999
    with pytest.raises(EncodingError, match=r"1001 values.*split it"):
        encode_query({"filter": {"@ID": list(range(1001))}})


def test_encode_command_prefixes_the_method_and_checks_its_name() -> None:
    assert encode_command("user.current", {}) == "user.current?"
    assert encode_command("crm.item.add", {"entityTypeId": 3}) == "crm.item.add?entityTypeId=3"
    with pytest.raises(EncodingError, match="not a Bitrix24 method name"):
        encode_command("crm.item.add?x=1", {})
    with pytest.raises(EncodingError, match="not a Bitrix24 method name"):
        encode_command("", {})


def test_batch_payload_sends_halt_as_an_integer_and_refuses_bad_sizes() -> None:
    assert batch_payload({"a": "server.time?"}, halt=True) == {"halt": 1, "cmd": {"a": "server.time?"}}
    assert batch_payload({"a": "server.time?"}, halt=False)["halt"] == 0
    with pytest.raises(EncodingError, match="at least one"):
        batch_payload({}, halt=True)
    with pytest.raises(EncodingError, match="at most 50"):
        batch_payload({f"c{i}": "server.time?" for i in range(51)}, halt=True)


def test_response_maps_accept_php_lists_and_objects() -> None:
    # protocol §5.3: an empty map is [], keys 0..n-1 arrive as a list
    assert response_map([]) == {}
    assert response_map(None) == {}
    assert response_map([{"ID": 1}, {"ID": 2}]) == {"0": {"ID": 1}, "1": {"ID": 2}}
    assert response_map({"2": {"error": "X"}}) == {"2": {"error": "X"}}
    maps = response_maps({"result": {"a": 1}, "result_error": [], "result_total": {"a": 0}})
    assert maps == {
        "result": {"a": 1},
        "result_error": {},
        "result_total": {"a": 0},
        "result_next": {},
        "result_time": {},
    }
    with pytest.raises(EncodingError):
        response_map("oops")


# The law against the real PHP parse_str -------------------------------------------------------

SPECIALS = "&=+#%?[]$ ~.-_;/\\\"'<>"
alphabet = st.characters(exclude_categories=["Cs"], exclude_characters="\0") | st.sampled_from(
    [*SPECIALS, "ж", "Ё", "😀", "€", "\t"]
)
text = st.text(alphabet=alphabet, max_size=12)
top_keys = text.filter(lambda k: k != "" and not set(k) & set(". [\0"))
nested_keys = text.filter(lambda k: k.strip(" \t\n\r\v\f") != "" or len(k) > 1).filter(
    lambda k: k != "" and "]" not in k
)
leaves = st.one_of(text, st.integers(-(10**12), 10**12), st.booleans(), st.none())
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(nested_keys, children, max_size=4),
    ),
    max_leaves=20,
)
params_strategy = st.dictionaries(top_keys, trees, max_size=5)


def php_view(value: Any) -> Any:
    """What PHP parse_str followed by json_encode gives for a value we encoded."""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if value is None:
        return ""
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        return [php_view(item) for item in value] if value else ""
    if not value:
        return ""
    converted = {str(key): php_view(item) for key, item in value.items()}
    if list(converted) == [str(i) for i in range(len(converted))]:
        return list(converted.values())
    return converted


@settings(max_examples=300, deadline=None)
@given(params_strategy)
def test_php_parse_str_decodes_exactly_what_was_encoded(
    php_parse_str: PhpParseStr, params: dict[str, Any]
) -> None:
    decoded = php_parse_str(encode_query(params))
    expected = php_view(params) if params else []
    if expected == "":
        expected = []
    assert decoded == expected


def test_php_round_trip_of_marked_text_and_unicode(php_parse_str: PhpParseStr) -> None:
    params = {"fields": {"TITLE": "Заказ #42 + 😀 & co = 100%", "[k": "$result[c1][item][id]"}}
    assert php_parse_str(encode_query(params)) == {
        "fields": {"TITLE": "Заказ #42 + 😀 & co = 100%", "[k": "$result[c1][item][id]"}
    }


def _with_holes(tree: Any, draw_hole: Any, holes: list[Any]) -> Any:
    """``tree`` with some of its leaves replaced by holes; ``holes`` gets each replaced leaf."""
    if isinstance(tree, dict):
        return {key: _with_holes(child, draw_hole, holes) for key, child in tree.items()}
    if isinstance(tree, list) and tree:
        return [_with_holes(child, draw_hole, holes) for child in tree]
    if draw_hole(st.booleans()):
        holes.append(tree)
        return Hole(len(holes) - 1)
    return tree


@settings(max_examples=300, deadline=None)
@given(params_strategy, st.data())
def test_a_skeleton_filled_with_its_values_is_the_encoded_command(params: dict[str, Any], data: Any) -> None:
    holes: list[Any] = []
    shaped = _with_holes(params, data.draw, holes)
    values = [data.draw(st.one_of(trees, st.just(value))) for value in holes]
    filled = _fill(shaped, values)
    assert compile_skeleton("crm.item.add", shaped).fill(values) == encode_command("crm.item.add", filled)


def _fill(tree: Any, values: list[Any]) -> Any:
    if isinstance(tree, Hole):
        return values[tree.index]
    if isinstance(tree, dict):
        return {key: _fill(child, values) for key, child in tree.items()}
    if isinstance(tree, list):
        return [_fill(child, values) for child in tree]
    return tree


def test_a_skeleton_refuses_what_encode_command_refuses() -> None:
    skeleton = compile_skeleton("crm.item.add", {"fields": {"n": Hole(0)}}, max_values=2)
    with pytest.raises(EncodingError, match="use a finite number"):
        skeleton.fill([float("nan")])
    with pytest.raises(EncodingError, match="holds 3 values; the portal reads at most 2"):
        skeleton.fill([[1, 2, 3]])
    with pytest.raises(EncodingError, match="not valid Unicode"):
        skeleton.fill(["\udcff"])
    with pytest.raises(EncodingError, match="cannot be decoded by the portal"):
        compile_skeleton("crm.item.add", {"a b": Hole(0)})


@given(st.text())
def test_text_is_percent_encoded_as_urllib_quotes_it(value: str) -> None:
    assert encode_query({"t": value}) == "t=" + quote(value, safe="")


@pytest.mark.parametrize(
    "value",
    [
        {"cmd": {"a": "crm.item.add?fields%5Btitle%5D=%C3%A9"}, "halt": 0},
        {"answer": 3, "outcomes": {"c[0]": {"status": "succeeded", "result": {"item": {"id": 7}}}}},
        {"big": 10**40, "floats": [0.1, 1e16, 5e-324, -0.0, float("inf")], "text": 'é\u2028</>&"\\\n'},
        {"lone": "\ud800", "nested": [[[]]], "none": None, "yes": True},
    ],
    ids=["payload", "journal-line", "numbers", "surrogate"],
)
def test_compact_json_reads_back_as_jsons_own_text(value: Any) -> None:
    text = compact_json(value)
    assert json.loads(text) == json.loads(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    assert ", " not in text and ": " not in text
