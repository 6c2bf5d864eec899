"""Excel workbooks (.xlsx): one sheet, a header row, cells typed as the sheet holds them.

Read with openpyxl in read-only mode, which streams the rows of a sheet and, unlike python-calamine,
shows error cells (``#DIV/0!``) as errors instead of empty text, so such a cell is reported at its
place (``orders.xlsx:Orders!B17``) rather than sent as an empty value. Numbers stay numbers, booleans
booleans, empty cells ``null``; dates and times become ISO 8601 text (``2024-04-19``, or
``2024-04-19T10:30:00`` when the time is not midnight).
"""

from __future__ import annotations

import datetime as dt
import difflib
import warnings
from collections.abc import Iterator
from typing import Any

from b24sync.errors import Problem
from b24sync.pipeline.models import FileSource
from b24sync.pipeline.sources.base import Place, SourceContext, SourceError, SourceRead, SourceRow
from b24sync.pipeline.sources.files import file_digest, open_binary

INSTALL_HINT = "reading .xlsx files needs openpyxl: pip install 'b24sync[excel]'"


def column_name(index: int) -> str:
    """The letters of a column from its index (0 is ``A``, 26 is ``AA``)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def cell_value(value: Any) -> Any:
    """A cell's value as pipeline data: dates and times as ISO text, whole floats as ints."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class ExcelRows:
    """The rows of one sheet, streamed: a mapping of the header row's names to cell values."""

    def __init__(self, path: str, spec: FileSource, context: SourceContext) -> None:
        self.path = path
        self.header_row = spec.header_row or 1
        self.sheet_name = spec.sheet
        self.location = context.where
        self.problems: list[Problem] = []
        self._count = 0
        self._digest = ""
        self._title = spec.sheet or ""

    def _place(self, sheet: str, row: int, column: int) -> Place:
        return Place(self.path, row, column + 1, f"{self.path}:{sheet}!{column_name(column)}{row}")

    def rows(self) -> Iterator[SourceRow]:
        """Every non-empty row below the header; error cells become problems at their cell."""
        try:
            import openpyxl
        except ImportError:
            raise SourceError(INSTALL_HINT, ("file",)) from None
        open_binary(self.path).close()  # a missing or unreadable file, in the words of every file
        try:
            with warnings.catch_warnings():
                # openpyxl warns about styles and extensions it skips; none of them changes a value
                warnings.simplefilter("ignore")
                workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many types for a damaged or foreign file
            raise SourceError(
                f"cannot read {self.path} as an Excel workbook (.xlsx): {error or type(error).__name__}",
                ("file",),
            ) from None
        try:
            sheet = self._sheet(workbook)
            self._title = sheet.title
            yield from self._rows(sheet, sheet.title)
        finally:
            workbook.close()
        self._digest = file_digest(self.path)

    def _sheet(self, workbook: Any) -> Any:
        names: list[str] = list(workbook.sheetnames)
        if self.sheet_name is None:
            if not names:
                raise SourceError(f"{self.path} has no sheets", ("file",))
            return workbook[names[0]]
        if self.sheet_name in names:
            return workbook[self.sheet_name]
        close = difflib.get_close_matches(self.sheet_name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (sheets: {', '.join(names)})"
        raise SourceError(f"{self.path} has no sheet {self.sheet_name!r}{hint}", ("sheet",))

    def _rows(self, sheet: Any, title: str) -> Iterator[SourceRow]:
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # the size a file declares may be wrong; read what is there
        cells = sheet.iter_rows(min_row=self.header_row)
        header = self._header(next(cells, None), title)
        if header is None:
            return
        width = len(header)
        for offset, row in enumerate(cells, start=1):
            number = self.header_row + offset
            values: dict[str, Any] = {}
            bad = False
            for column, cell in enumerate(row):
                value = cell.value
                if value is None:
                    if column < width:
                        values[header[column]] = None
                    continue
                if getattr(cell, "data_type", None) == "e":
                    problem = self._place(title, number, column).problem(
                        self.location, f"the cell holds the error {value}: fix it in the sheet"
                    )
                    self.problems.append(problem)
                    bad = True
                elif column >= width:
                    message = f"the cell has a value but its column has no name in row {self.header_row}"
                    self.problems.append(self._place(title, number, column).problem(self.location, message))
                    bad = True
                else:
                    values[header[column]] = cell_value(value)
            if bad or all(v is None for v in values.values()):
                continue
            for name in header[len(row) :]:
                values[name] = None
            self._count += 1
            yield SourceRow(values, f"{self.path}:{title}!A{number}", self._place(title, number, 0))

    def _header(self, row: Any, title: str) -> list[str] | None:
        values = [cell.value for cell in row] if row is not None else []
        while values and values[-1] in (None, ""):
            values.pop()
        if not values:
            place = self._place(title, self.header_row, 0)
            self.problems.append(
                place.problem(self.location, f"row {self.header_row} is empty: it must name the columns")
            )
            return None
        header: list[str] = []
        for column, value in enumerate(values):
            name = "" if value is None else str(cell_value(value)).strip()
            place = self._place(title, self.header_row, column)
            if not name:
                self.problems.append(place.problem(self.location, "the header cell is empty"))
            elif name in header:
                self.problems.append(place.problem(self.location, f"the header repeats the column {name!r}"))
            header.append(name)
        return header

    def summary(self) -> SourceRead:
        """Rows read and the sheet they came from."""
        shown = self._title
        details = (
            (f"sheet {shown}",)
            if self.header_row == 1
            else (f"sheet {shown}", f"header row {self.header_row}")
        )
        return SourceRead(self.location, "xlsx", self.path, self._count, details, sha256=self._digest)
