"""JSON data within the limits of pipeline.limits: every value over one is a JSON error at its row."""

from __future__ import annotations

import json

import pytest

from b24sync.pipeline.limits import loads, raw_decode, too_deep


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests deeper than 100 levels"),
        ("[" * 150 + "]" * 150, "nests deeper than 100 levels"),
        ("[" + "9" * 5000 + "]", "a number has 5000 digits"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
    ],
)
def test_json_over_a_limit_is_a_decode_error(text: str, message: str) -> None:
    with pytest.raises(json.JSONDecodeError, match=message):
        loads(text)


def test_json_within_the_limits_reads_as_usual() -> None:
    assert loads(' {"a": [1, 2.5, "x", null]} ') == {"a": [1, 2.5, "x", None]}
    assert raw_decode("[1] [2]", 4) == ([2], 7)
    assert not too_deep([[[1]]], 3) and too_deep([[[[1]]]], 3)
