from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.errors import PipelineError
from b24sync.pipeline.datafiles import Row, UnreadableDataFile, read_rows


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_csv_rows_are_mappings_of_the_header_with_their_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'name,note\nAnn,"two\nlines"\n\nBob,x\n')
    assert read_rows(path, "loc") == [
        Row({"name": "Ann", "note": "two\nlines"}, 2),
        Row({"name": "Bob", "note": "x"}, 5),
    ]


def test_a_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffname\nAnn\n".encode())
    assert read_rows(str(path), "loc") == [Row({"name": "Ann"}, 2)]


def test_every_bad_csv_row_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a,b\n1,2\n1\n1,2,3\n")
    with pytest.raises(PipelineError) as caught:
        read_rows(path, "steps[0].for_each")
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:3:1: steps[0].for_each: the row has 1 field, the header has 2 fields",
        f"{path}:4:1: steps[0].for_each: the row has 3 fields, the header has 2 fields",
    ]


def test_csv_header_must_name_every_column_once(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="repeats the column 'a'"):
        read_rows(write(tmp_path, "a.csv", "a,a\n1,2\n"), "loc")


def test_json_rows_know_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '[\n  {"a": 1},\n\n  {"a": [1,\n 2]}, 3\n]\n')
    assert read_rows(path, "loc") == [Row({"a": 1}, 2), Row({"a": [1, 2]}, 4), Row(3, 5)]
    assert read_rows(write(tmp_path, "e.json", " [ ] "), "loc") == []


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[{"a": 1},\n {"a": 2,}]', 2, "malformed JSON"),
        ('[{"a": 1}\n {"a": 2}]', 2, "Expecting ',' delimiter"),
        ("[1] [2]", 1, "Extra data"),
        ('{"a": 1}', 1, "must be a list of rows, not a mapping"),
    ],
)
def test_bad_json_points_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        read_rows(write(tmp_path, "a.json", text), "loc")
    (problem,) = caught.value.problems
    assert (problem.line, message in problem.message) == (line, True)


def test_jsonl_skips_blank_lines_and_reports_each_bad_one(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"a": 1}\n\n{"a": 2}\n')
    assert read_rows(path, "loc") == [Row({"a": 1}, 1), Row({"a": 2}, 3)]
    with pytest.raises(PipelineError) as caught:
        read_rows(write(tmp_path, "b.jsonl", "{\n[\n1\n"), "loc")
    assert [p.line for p in caught.value.problems] == [1, 2]


def test_yaml_rows_know_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "- a: 1\n\n- a: 2\n")
    assert read_rows(path, "loc") == [Row({"a": 1}, 1), Row({"a": 2}, 3)]


def test_unreadable_or_unknown_files_blame_the_pipeline(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDataFile, match=r"missing\.csv does not exist: check the name"):
        read_rows(str(tmp_path / "missing.csv"), "loc")
    write(tmp_path, "contacts.csv", "name\n")
    with pytest.raises(
        UnreadableDataFile, match=r"contact.csv does not exist \(did you mean 'contacts.csv'\?\)"
    ):
        read_rows(str(tmp_path / "contact.csv"), "loc")
    (tmp_path / "locked.csv").mkdir()
    with pytest.raises(UnreadableDataFile, match=r"cannot read data file .*locked\.csv"):
        read_rows(str(tmp_path / "locked.csv"), "loc")
    with pytest.raises(UnreadableDataFile, match=r"unsupported data file type '\.xlsx'"):
        read_rows(write(tmp_path, "a.xlsx", ""), "loc")


def test_non_utf8_data_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"name\nAnn\n\xff\n")
    with pytest.raises(PipelineError, match=r"a\.csv:3:1: loc: the data file is not UTF-8 text"):
        read_rows(str(path), "loc")


def test_a_nul_in_the_file_name_is_a_clear_error() -> None:
    with pytest.raises(UnreadableDataFile, match="NUL character"):
        read_rows("data/a\0b.csv", "loc")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "deep.json",
            '[{"a": 1},\n' + "[" * 100_000 + "]" * 100_000 + "]",
            "2:1: loc: malformed JSON: the data nests",
        ),
        (
            "big.json",
            '[{"a": 1},\n{"n": ' + "9" * 5000 + "}]",
            "2:1: loc: malformed JSON: a number has 5000 digits",
        ),
        (
            "big.jsonl",
            '{"a": 1}\n{"n": ' + "9" * 5000 + "}\n",
            "2:1: loc: malformed JSON: a number has 5000 digits",
        ),
        (
            "bomb.yaml",
            "- &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"- &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 10)}]\n" for i in range(5)),
            "aliases expand to more than 100,000 values",
        ),
    ],
)
def test_data_files_over_a_limit_are_problems_at_their_row(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(PipelineError, match=message):
        read_rows(write(tmp_path, name, text), "loc")
