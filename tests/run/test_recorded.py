"""``Recorded``: an earlier run's results as a resumed run reads them, whatever their shape."""

from __future__ import annotations

from typing import Any

import pytest

from b24sync.run.recorded import Recorded

SHAPES: list[Any] = [
    {"item": {"id": 7}},
    {"task": {"id": 2**40}},
    7,
    0,
    None,
    True,
    -3,
    "7",
    {"item": {"id": 7, "title": "Acme"}},
    {"item": {"id": "7"}},
    {"item": {"id": True}},
    {"item": {"id": -1}},
    {"a": 1, "b": 2},
    [1, 2],
    {"item": 7},
]


@pytest.mark.parametrize("value", SHAPES, ids=[repr(v) for v in SHAPES])
def test_every_result_comes_back_as_it_was_recorded(value: Any) -> None:
    store = Recorded()
    store["k"] = value
    assert "k" in store and len(store) == 1
    got = store["k"]
    assert got == value and type(got) is type(value)
    assert store.take("k") == value
    assert "k" not in store and len(store) == 0


def test_the_last_word_on_a_key_wins_whatever_its_shape() -> None:
    store = Recorded()
    store["k"] = {"item": {"id": 1}}
    store["k"] = {"item": {"id": 1, "title": "x"}}
    assert store["k"] == {"item": {"id": 1, "title": "x"}} and len(store) == 1
    store["k"] = 5
    got: Any = store["k"]
    assert got == 5 and len(store) == 1
    del store["k"]
    assert "k" not in store
    with pytest.raises(KeyError):
        store.take("k")


def test_many_wrappers_and_keys_are_kept_apart() -> None:
    store = Recorded()
    expected: dict[str, Any] = {}
    for n in range(600):
        value: Any = {
            f"w{n % 300}": {"id": n}
        }  # more wrappers than the packed form names: the rest kept whole
        store[f"k{n}"] = expected[f"k{n}"] = value
    assert dict(store) == expected
    assert sorted(store) == sorted(expected)
