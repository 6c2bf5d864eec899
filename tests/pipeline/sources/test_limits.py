"""Data files over a limit (nesting, number length, alias bombs, a NUL in the name) are problems at
their row, never a crash: the same limits as pipeline files (b24sync.pipeline.limits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.errors import PipelineError
from b24sync.pipeline.loader import load_pipeline

PIPELINE = """\
version: 1
name: limits
steps:
  - id: row
    for_each: {file: "NAME"}
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "x"}}
"""


def _load(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE.replace("NAME", name), encoding="utf-8")
    with pytest.raises(PipelineError) as raised:
        load_pipeline(str(pipeline))
    return str(raised.value)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "deep.json",
            '[{"a": 1},\n' + "[" * 100_000 + "]" * 100_000 + "]",
            "2:1: steps[0].for_each: malformed JSON: the data nests",
        ),
        (
            "big.json",
            '[{"a": 1},\n{"n": ' + "9" * 5000 + "}]",
            "2:1: steps[0].for_each: malformed JSON: a number has 5000 digits",
        ),
        (
            "big.jsonl",
            '{"a": 1}\n{"n": ' + "9" * 5000 + "}\n",
            "2:1: steps[0].for_each: malformed JSON: a number has 5000 digits",
        ),
        (
            "bomb.yaml",
            "- &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"- &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 10)}]\n" for i in range(5)),
            "aliases expand to more than 100,000 values",
        ),
    ],
    ids=["deep-json", "long-number-json", "long-number-jsonl", "yaml-alias-bomb"],
)
def test_a_data_file_over_a_limit_is_a_problem_at_its_row(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    shown = _load(tmp_path, name, text)
    assert message in shown and "Traceback" not in shown


def test_a_nul_in_a_data_file_name_is_a_clear_error(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE.replace('"NAME"', '"a\\0b.csv"'), encoding="utf-8")
    with pytest.raises(PipelineError, match="NUL character"):
        load_pipeline(str(pipeline))
