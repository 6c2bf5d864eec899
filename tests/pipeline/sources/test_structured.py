from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.pipeline.sources import SourceError
from tests.helpers.sources import read_source


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_json_rows_know_their_line(tmp_path: Path) -> None:
    read = read_source({"file": write(tmp_path, "a.json", '[\n  {"a": 1},\n\n  {"a": [1,\n 2]}, 3\n]\n')})
    assert (read.values, read.lines) == ([{"a": 1}, {"a": [1, 2]}, 3], [2, 4, 5])
    assert read_source({"file": write(tmp_path, "e.json", " [ ] ")}).values == []
    assert (read.summary.kind, read.summary.rows) == ("json", 3)


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
    path = write(tmp_path, "a.json", text)
    (problem,) = read_source({"file": path}).problems
    assert problem.startswith(f"{path}:{line}:") and message in problem


def test_jsonl_skips_blank_lines_and_reports_each_bad_one(tmp_path: Path) -> None:
    read = read_source({"file": write(tmp_path, "a.jsonl", '{"a": 1}\n\n{"a": 2}\n')})
    assert (read.values, read.lines) == ([{"a": 1}, {"a": 2}], [1, 3])
    path = write(tmp_path, "b.jsonl", "{\n[\n1\n")
    assert [p.split(":")[1] for p in read_source({"file": path}).problems] == ["1", "2"]


def test_yaml_rows_know_their_line(tmp_path: Path) -> None:
    read = read_source({"file": write(tmp_path, "a.yaml", "- a: 1\n\n- a: 2\n")})
    assert (read.values, read.lines) == ([{"a": 1}, {"a": 2}], [1, 3])


def test_unreadable_or_unknown_files_blame_the_pipeline(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"missing\.csv does not exist: check the name"):
        read_source({"file": str(tmp_path / "missing.csv")})
    write(tmp_path, "contacts.csv", "name\n")
    with pytest.raises(SourceError, match=r"contact.csv does not exist \(did you mean 'contacts.csv'\?\)"):
        read_source({"file": str(tmp_path / "contact.csv")})
    (tmp_path / "locked.json").mkdir()
    with pytest.raises(SourceError, match=r"locked\.json is a folder"):
        read_source({"file": str(tmp_path / "locked.json")})
    with pytest.raises(SourceError, match=r"unsupported data file type '\.ods'"):
        read_source({"file": write(tmp_path, "a.ods", "")})


def test_options_of_another_file_type_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="delimiter applies to CSV files only") as caught:
        read_source({"file": write(tmp_path, "a.json", "[]"), "delimiter": ";"})
    assert caught.value.key == ("delimiter",)
    with pytest.raises(SourceError, match=r"sheet applies to Excel files \(.xlsx\) only"):
        read_source({"file": write(tmp_path, "a.csv", "a\n"), "sheet": "S"})


def test_non_utf8_json_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'[\n"Ann",\n"\xff"]\n')
    assert read_source({"file": str(path)}).problems == [f"{path}:3:1: loc: the data file is not UTF-8 text"]
