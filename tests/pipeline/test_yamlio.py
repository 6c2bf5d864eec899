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


def _bomb(levels: int, key: str = "zz") -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines).replace("a0:", f"{key}:", 1) + "\n"


@pytest.mark.parametrize("levels", [6, 9])
def test_an_alias_bomb_is_refused_before_it_expands(levels: int) -> None:
    with pytest.raises(PipelineError, match="aliases expand to more than 100,000 values") as caught:
        load_yaml(_bomb(levels), "f.yaml")
    assert len(caught.value.problems) == 1 and caught.value.problems[0].line <= 6


def test_reuse_of_an_anchor_stays_allowed() -> None:
    document = load_yaml("d: &d {a: 1}\nx: [*d, *d]\n", "f.yaml")
    assert document.value == {"d": {"a": 1}, "x": [{"a": 1}, {"a": 1}]}


@pytest.mark.parametrize("text", ["x: " + "[" * 100_000 + "]" * 100_000, "x: " + "[" * 500 + "]" * 500])
def test_deep_nesting_is_a_problem_not_a_crash(text: str) -> None:
    # libyaml's composer recurses in C: 100,000 levels crashed the interpreter before the limit
    with pytest.raises(PipelineError, match="nests deeper than 100 levels"):
        load_yaml(text, "f.yaml")


def test_a_number_of_5000_digits_is_a_problem() -> None:
    with pytest.raises(PipelineError, match="at most 1000 digits") as caught:
        load_yaml("n: " + "9" * 5000 + "\n", "f.yaml")
    assert str(caught.value.problems[0]).startswith("f.yaml:1:4: n: a number of 5000 characters")
