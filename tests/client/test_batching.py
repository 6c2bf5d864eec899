"""The three shapes of call_batch calls, and the references between commands."""

from __future__ import annotations

import pytest

from b24sync.client.batching import Call, normalize_calls, referenced_keys
from b24sync.errors import UsageError


def test_a_dict_of_named_commands_takes_both_forms_and_keeps_the_order() -> None:
    batch = normalize_calls({"b": ["user.current", {}], "a": {"method": "server.time"}})
    assert batch.as_list is False
    assert list(batch.calls) == [Call("b", "user.current", {}), Call("a", "server.time", {})]


def test_a_list_is_keyed_by_position() -> None:
    batch = normalize_calls([["server.time"], {"method": "user.current", "params": {"x": 1}}])
    assert batch.as_list is True
    assert [(c.key, c.method, dict(c.params)) for c in batch.calls] == [
        ("0", "server.time", {}),
        ("1", "user.current", {"x": 1}),
    ]


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        ({"a b": ["server.time"]}, "command key 'a b' cannot be used in a batch"),
        ({"a[0]": ["server.time"]}, "command key 'a[0]' cannot be used in a batch"),
        ({"": ["server.time"]}, "command key '' cannot be used in a batch"),
        ({"a": {"method": "x", "params": {}, "halt": 1}}, "command 'a' has unknown keys ['halt']"),
        ({"a": ["x", {}, "extra"]}, "command 'a' must be [method, params]"),
        ({"a": [""]}, "command 'a' needs a method name"),
        ({"a": ["x", [1]]}, "parameters of command 'a' must be a map, not list"),
        ("server.time", "calls must be a list of commands or a dict of named commands"),
        ([], "a batch needs at least one command"),
    ],
)
def test_shapes_that_cannot_work_are_refused_clearly(calls: object, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        normalize_calls(calls)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("command", "keys"),
    [
        ("crm.item.add?fields%5BcompanyId%5D=%24result%5Bcompany%5D%5Bitem%5D%5Bid%5D", {"company"}),
        ("x?a=$result[one][ID]&b=$next[two]&c=$TOTAL[three]", {"one", "two", "three"}),
        ("x?a=$error[bad][error]&b=$time[t][duration]", {"bad", "t"}),
        ("x?a=result[one]&b=$other[two]", set()),
    ],
)
def test_referenced_keys_reads_raw_and_encoded_references(command: str, keys: set[str]) -> None:
    assert referenced_keys(command) == keys
