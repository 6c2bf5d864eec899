from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from b24sync.pipeline.sources import SourceError
from tests.helpers.sources import read_source
from tests.helpers.xlsx import XlsxError, write_xlsx

HEADER = ["id", "name", "amount", "paid", "ordered", "at"]


def book(tmp_path: Path, sheets: dict[str, list[list[Any]]]) -> str:
    path = tmp_path / "orders.xlsx"
    write_xlsx(path, sheets)
    return str(path)


def test_cells_keep_the_type_the_sheet_holds(tmp_path: Path) -> None:
    path = book(
        tmp_path,
        {
            "Orders": [
                HEADER,
                [17, "Ann", 12.5, True, dt.date(2024, 4, 19), dt.datetime(2024, 4, 19, 10, 30)],
                [18, "Боб", 3, False, None, None],
            ]
        },
    )
    read = read_source({"file": path})
    assert read.values == [
        {
            "id": 17,
            "name": "Ann",
            "amount": 12.5,
            "paid": True,
            "ordered": "2024-04-19",
            "at": "2024-04-19T10:30:00",
        },
        {"id": 18, "name": "Боб", "amount": 3, "paid": False, "ordered": None, "at": None},
    ]
    assert [row.origin for row in read.rows] == [f"{path}:Orders!A2", f"{path}:Orders!A3"]
    assert (read.summary.kind, read.summary.rows, read.summary.details) == ("xlsx", 2, ("sheet Orders",))


def test_the_first_sheet_by_default_another_by_name_and_a_lower_header_row(tmp_path: Path) -> None:
    path = book(
        tmp_path,
        {
            "Notes": [["note"], ["first"]],
            "Orders": [["Exported 2024-04-19"], [], ["id", "name"], [1, "Ann"], [], [2, "Bob"]],
        },
    )
    assert read_source({"file": path}).values == [{"note": "first"}]
    read = read_source({"file": path, "sheet": "Orders", "header_row": 3})
    assert read.values == [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}]
    assert read.lines == [4, 6]


def test_an_error_cell_is_reported_at_its_cell(tmp_path: Path) -> None:
    path = book(tmp_path, {"Orders": [["id", "total"], [1, 5], [2, XlsxError("#DIV/0!")]]})
    read = read_source({"file": path}, where="steps[0].for_each")
    assert read.values == [{"id": 1, "total": 5}]
    assert read.problems == [
        f"{path}:Orders!B3: steps[0].for_each: the cell holds the error #DIV/0!: fix it in the sheet"
    ]


def test_header_problems_point_at_their_cells(tmp_path: Path) -> None:
    path = book(tmp_path, {"S": [["id", None, "id"], [1, 2, 3, 4]]})
    assert read_source({"file": path}).problems == [
        f"{path}:S!B1: loc: the header cell is empty",
        f"{path}:S!C1: loc: the header repeats the column 'id'",
        f"{path}:S!D2: loc: the cell has a value but its column has no name in row 1",
    ]


def test_an_unknown_sheet_names_the_closest(tmp_path: Path) -> None:
    path = book(tmp_path, {"Orders": [["id"]], "Notes": [["x"]]})
    with pytest.raises(SourceError, match=r"has no sheet 'orders' \(did you mean 'Orders'\?\)") as caught:
        read_source({"file": path, "sheet": "orders"})
    assert caught.value.key == ("sheet",)


def test_a_file_that_is_not_a_workbook_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("id,name\n1,Ann\n")
    with pytest.raises(SourceError, match=r"cannot read .*fake\.xlsx as an Excel workbook"):
        read_source({"file": str(path)})


def test_a_missing_extra_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    path = book(tmp_path, {"S": [["id"], [1]]})
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(SourceError) as caught:
        read_source({"file": path})
    assert str(caught.value) == "reading .xlsx files needs openpyxl: pip install 'b24sync[excel]'"
