from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from b24sync.pipeline.sources import SourceError
from b24sync.pipeline.sources.csvfile import detect_delimiter
from tests.helpers.sources import read_source

RUSSIAN = (
    'Имя;Почта;Город\nАнна Иванова;anna@example.ru;Москва\n"Пётр; младший";petr@example.ru;Санкт-Петербург\n'
)


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def test_rows_are_mappings_of_the_header_with_their_own_line(tmp_path: Path) -> None:
    read = read_source({"file": write(tmp_path, "a.csv", 'name,note\nAnn,"two\nlines"\n\nBob,x\n')})
    assert read.values == [{"name": "Ann", "note": "two\nlines"}, {"name": "Bob", "note": "x"}]
    assert read.lines == [2, 5]
    assert [row.origin for row in read.rows] == [f"{tmp_path}/a.csv:2", f"{tmp_path}/a.csv:5"]
    assert read.summary.details == ("delimiter ',' detected", "encoding UTF-8 detected")


def test_windows_1251_with_semicolons_as_excel_saves_it_in_russia(tmp_path: Path) -> None:
    read = read_source({"file": write(tmp_path, "clients.csv", RUSSIAN.encode("cp1251"))})
    assert read.problems == []
    assert read.values == [
        {"Имя": "Анна Иванова", "Почта": "anna@example.ru", "Город": "Москва"},
        {"Имя": "Пётр; младший", "Почта": "petr@example.ru", "Город": "Санкт-Петербург"},
    ]
    assert read.summary.details == ("delimiter ';' detected", "encoding Windows-1251 (cp1251) detected")


@pytest.mark.parametrize(
    ("encoded", "shown"),
    [
        (codecs.BOM_UTF8 + RUSSIAN.encode("utf-8"), "UTF-8 with BOM"),
        (RUSSIAN.encode("utf-8"), "UTF-8"),
        (RUSSIAN.encode("utf-16"), "UTF-16 with BOM"),
        (codecs.BOM_UTF16_BE + RUSSIAN.encode("utf-16-be"), "UTF-16 with BOM"),
    ],
)
def test_unicode_files_with_and_without_a_byte_order_mark(tmp_path: Path, encoded: bytes, shown: str) -> None:
    read = read_source({"file": write(tmp_path, "a.csv", encoded)})
    assert list(read.values[0]) == ["Имя", "Почта", "Город"]
    assert read.summary.details[1] == f"encoding {shown} detected"


@pytest.mark.parametrize(("delimiter", "shown"), [(",", "','"), (";", "';'"), ("\t", "tab"), ("|", "'|'")])
def test_each_delimiter_is_detected(tmp_path: Path, delimiter: str, shown: str) -> None:
    text = delimiter.join(["id", "name", "note"]) + "\n" + delimiter.join(["1", "Ann", "a, b; c"]) + "\n"
    if delimiter in (",", ";"):
        text = text.replace("a, b; c", '"a, b; c"')
    read = read_source({"file": write(tmp_path, "a.csv", text)})
    assert read.values == [{"id": "1", "name": "Ann", "note": "a, b; c"}]
    assert read.summary.details[0] == f"delimiter {shown} detected"


def test_a_single_column_file_has_no_delimiter_to_find(tmp_path: Path) -> None:
    assert read_source({"file": write(tmp_path, "a.csv", "email\nann@x.org\n")}).values == [
        {"email": "ann@x.org"}
    ]


def test_the_delimiter_that_splits_rows_evenly_wins() -> None:
    # Commas inside unquoted names would split the rows unevenly; the semicolons split them all in three.
    sample = ["name;email;city\n", "Lee, Ann;ann@x.org;Paris\n", "Bob;bob@x.org;Rome, Italy\n"]
    assert detect_delimiter(sample, complete=True) == ";"


def test_delimiter_and_encoding_override_detection(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a;b,c\n1;2,3\n".encode("cp1252"))
    read = read_source({"file": path, "delimiter": ";", "encoding": "cp1252"})
    assert read.values == [{"a": "1", "b,c": "2,3"}]
    assert read.summary.details == ("delimiter ';' given", "encoding cp1252 given")


def test_a_western_file_is_not_mistaken_for_windows_1251(tmp_path: Path) -> None:
    # Every accented Latin letter of cp1252 decodes as a Cyrillic letter in cp1251: Müller reads Mьller.
    path = write(tmp_path, "a.csv", "name;city\nMüller;Köln\nZoë;Nîmes\n".encode("cp1252"))
    with pytest.raises(SourceError) as caught:
        read_source({"file": path})
    message = str(caught.value)
    assert message.startswith(f"cannot tell the encoding of {path}: it is not UTF-8 (byte 0xfc on line 2)")
    assert "encoding: cp1252" in message and "delimiter: ';'" in message


def test_bytes_windows_1251_cannot_decode_are_not_windows_1251(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot tell the encoding"):
        read_source({"file": write(tmp_path, "a.csv", "имя\n".encode("cp1251") + b"\x98\n")})


def test_a_wrong_encoding_given_is_reported_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", ("name\n" + "Ann\n" * 3).encode() + "Анна\n".encode("cp1251"))
    read = read_source({"file": path, "encoding": "utf-8"})
    assert read.problems == [
        f"{path}:5:1: loc: the data file is not utf-8 text (byte 0xc0 does not decode): check encoding"
    ]


def test_an_unknown_encoding_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unknown encoding 'cp-russian'") as caught:
        read_source({"file": write(tmp_path, "a.csv", "a\n"), "encoding": "cp-russian"})
    assert caught.value.key == ("encoding",)


def test_every_bad_row_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a,b\n1,2\n1\n1,2,3\n")
    read = read_source({"file": path}, where="steps[0].for_each")
    assert read.values == [{"a": "1", "b": "2"}]
    assert read.problems == [
        f"{path}:3:1: steps[0].for_each: the row has 1 field, the header has 2 fields",
        f"{path}:4:1: steps[0].for_each: the row has 3 fields, the header has 2 fields",
    ]


def test_header_must_name_every_column_once(tmp_path: Path) -> None:
    assert (
        "repeats the column 'a'" in read_source({"file": write(tmp_path, "a.csv", "a,a\n1,2\n")}).problems[0]
    )
    assert "empty: it needs a header row" in read_source({"file": write(tmp_path, "e.csv", "")}).problems[0]


def test_the_digest_is_of_the_file(tmp_path: Path) -> None:
    import hashlib

    data = ("id\n" + "".join(f"{i}\n" for i in range(100_000))).encode()
    read = read_source({"file": write(tmp_path, "a.csv", data)})
    assert read.summary.rows == 100_000
    assert read.summary.sha256 == hashlib.sha256(data).hexdigest()


def test_a_long_field_is_read_and_one_past_the_limit_is_one_clear_problem(tmp_path: Path) -> None:
    # a long description or an HTML body: the csv module alone stops at 131,072 characters
    from b24sync.pipeline.limits import MAX_CSV_FIELD

    long = "Описание " * 50_000  # 450,000 characters, in a quoted field across lines
    path = write(tmp_path, "a.csv", f'id;note\n1;"{long}\nmore"\n2;short\n')
    read = read_source({"file": path})
    assert read.problems == []
    assert read.values == [{"id": "1", "note": f"{long}\nmore"}, {"id": "2", "note": "short"}]
    # the delimiter is told from the first lines, cut inside that field (64 KB, or 50 lines)
    lines = "\n".join(f"line {n}" for n in range(60))
    read = read_source({"file": write(tmp_path, "c.csv", f'id|note\n1|"{lines}"\n2|x\n')})
    assert read.values == [{"id": "1", "note": lines}, {"id": "2", "note": "x"}]
    too_long = write(tmp_path, "b.csv", "id,note\n1,ok\n2," + "x" * (MAX_CSV_FIELD + 1) + "\n")
    read = read_source({"file": too_long})
    assert read.problems == [
        f"{too_long}:3:1: loc: a field holds more than {MAX_CSV_FIELD:,} characters, the most a CSV field may hold"
    ]
