"""Strict links: a missing path fails the command instead of sending the portal's fallback."""

from __future__ import annotations

import pytest

from b24sync.run.links import LinkError, follow, substitute

RESULT = {"item": {"id": 7, "title": "Acme", "tags": ["a", "b"], "empty": None}}


@pytest.mark.parametrize(
    ("path", "value"),
    [(("item", "id"), 7), (("item", "tags", 1), "b"), (("item", "tags", "0"), "a"), ((), RESULT)],
)
def test_follow_reads_the_node_at_the_path(path: tuple[str | int, ...], value: object) -> None:
    assert follow(RESULT, path) == value


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("item", "missing"), "[item][missing] does not exist in the result"),
        (("item", "tags", 5), "[item][tags][5] does not exist in the result"),
        (("item", "empty"), "[item][empty] is null in the result"),
        (("item", "id", "deeper"), "[item][id][deeper] does not exist in the result"),
    ],
)
def test_follow_names_the_first_missing_step(path: tuple[str | int, ...], message: str) -> None:
    with pytest.raises(LinkError) as raised:
        follow(RESULT, path)
    assert str(raised.value) == message


def test_a_whole_value_marker_keeps_the_type_of_the_result() -> None:
    params = {"fields": {"companyId": "$result[c][item][id]", "ids": ["$result[c][item][id]"]}}
    out = substitute(params, {"$result[c][item][id]": 7})
    assert out == {"fields": {"companyId": 7, "ids": [7]}}
    assert params["fields"]["companyId"] == "$result[c][item][id]"  # the input is not changed


def test_a_marker_inside_text_is_spliced_as_text_and_a_longer_marker_is_not_cut() -> None:
    replacements = {"$result[c][item][id]": 7, "$result[c][item]": {"id": 7}}
    out = substitute({"title": "Order for $result[c][item][id]-x"}, replacements)
    assert out == {"title": "Order for 7-x"}


def test_a_list_cannot_be_placed_inside_text() -> None:
    with pytest.raises(LinkError, match="is a list, which cannot be placed inside text"):
        substitute({"title": "tags: $result[c][tags]"}, {"$result[c][tags]": ["a"]})


def test_booleans_inside_text_are_y_and_n() -> None:
    assert substitute("open: $result[c][ok]", {"$result[c][ok]": True}) == "open: Y"


def test_secrets_are_substituted_only_through_the_given_function() -> None:
    out = substitute({"token": "Bearer $secret[API_TOKEN]"}, {}, secret=lambda name: f"<{name}>")
    assert out == {"token": "Bearer <API_TOKEN>"}
    assert substitute({"token": "$secret[API_TOKEN]"}, {}) == {"token": "$secret[API_TOKEN]"}
