from __future__ import annotations

import pytest

from b24sync.errors import PipelineError, format_path
from b24sync.pipeline.yamlio import load_yaml


def test_values_and_keys_keep_their_line_and_column() -> None:
    document = load_yaml("a: 1\nsteps:\n  - id: x\n    when: 2024-01-01\n", "f.yaml")
    assert document.value == {"a": 1, "steps": [{"id": "x", "when": "2024-01-01"}]}
    assert document.position(("steps", 0, "id")) == (3, 9)
    assert document.position(("steps", 0, "id"), key=True) == (3, 5)
    assert document.position(("steps", 0, "missing", 3)) == (3, 5)


def test_dates_stay_text_because_plans_are_json() -> None:
    assert load_yaml("d: 2024-01-01\n", "f.yaml").value == {"d": "2024-01-01"}


def test_duplicate_keys_are_all_reported_with_the_first_line() -> None:
    with pytest.raises(PipelineError) as caught:
        load_yaml("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "f.yaml:3:1: a: duplicate key 'a' (first defined at line 1)",
        "f.yaml:4:1: b: duplicate key 'b' (first defined at line 2)",
    ]


def test_syntax_errors_carry_the_line() -> None:
    with pytest.raises(PipelineError) as caught:
        load_yaml("a:\n  - [1, 2\n", "f.yaml")
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert problem.message.startswith("YAML syntax error: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !secret x\n", "unsupported YAML tag !secret"),
        ("a: &x [*x]\n", "a YAML alias refers to itself"),
        ("<<: {a: 1}\n", "YAML merge keys (<<) are not supported"),
        ("? [a]\n: 1\n", "a mapping key must be a plain scalar"),
    ],
)
def test_only_plain_data_is_accepted(text: str, message: str) -> None:
    with pytest.raises(
        PipelineError, match=r"f\.yaml:\d+:\d+: .*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        load_yaml(text, "f.yaml")


def test_aliases_to_plain_data_are_copied() -> None:
    assert load_yaml("a: &x {b: 1}\nc: *x\n", "f.yaml").value == {"a": {"b": 1}, "c": {"b": 1}}


def test_an_empty_file_is_none() -> None:
    assert load_yaml("", "f.yaml").value is None


def test_format_path() -> None:
    assert format_path(("steps", 2, "params", "fields")) == "steps[2].params.fields"
    assert format_path(()) == ""
