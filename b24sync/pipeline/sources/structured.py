"""Structured data files: .json (a list), .jsonl (a value per line) and .yaml (a list), with each row's line.

These files are read whole (a JSON or YAML list has to be parsed as one document); CSV and Excel
files and SQL and portal sources stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import NamedTuple

from b24sync.errors import PipelineError, Problem
from b24sync.pipeline.limits import loads, raw_decode
from b24sync.pipeline.sources.base import Place, SourceContext, SourceRead, SourceRow
from b24sync.pipeline.sources.files import open_binary
from b24sync.pipeline.yamlio import load_yaml

_KINDS = {".json": "json", ".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml"}


class Row(NamedTuple):
    """One row of a data file and the line it starts on (a tuple: one is made for every row, and
    a frozen dataclass sets each field through ``object.__setattr__``)."""

    value: object
    line: int


class StructuredRows:
    """The rows of a .json, .jsonl or .yaml file."""

    def __init__(self, path: str, suffix: str, context: SourceContext) -> None:
        self.path = path
        self.kind = _KINDS[suffix]
        self.location = context.where
        self.problems: list[Problem] = []
        self._count = 0
        self._digest = ""

    def rows(self) -> Iterator[SourceRow]:
        """Every row with its line; a file that does not parse is one problem at its line."""
        import hashlib

        with open_binary(self.path) as stream:
            data = stream.read()
        self._digest = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            self.problems.append(
                Problem(self.path, line, 1, self.location, "the data file is not UTF-8 text")
            )
            return
        del data
        read = {"json": _json_rows, "jsonl": _jsonl_rows, "yaml": _yaml_rows}[self.kind]
        try:
            rows = read(text, self.path, self.location)
        except PipelineError as error:
            self.problems.extend(error.problems)
            return
        self._count = len(rows)
        for row in rows:
            yield SourceRow(row.value, f"{self.path}:{row.line}", Place(self.path, row.line))

    def summary(self) -> SourceRead:
        """Rows read."""
        return SourceRead(self.location, self.kind, self.path, self._count, sha256=self._digest)


def _json_rows(text: str, path: str, location: str) -> list[Row]:
    try:
        start = _skip_space(text, 0)
        if not text.startswith("[", start):
            value = loads(text)
            raise PipelineError(
                [Problem(path, 1, 1, location, f"the JSON data must be a list of rows, not {_kind(value)}")]
            )
        # Decode element by element so every row knows the line it starts on.
        rows: list[Row] = []
        index = _skip_space(text, start + 1)
        line, counted = 1, 0
        if text.startswith("]", index):
            index += 1
        else:
            while True:
                line += text.count("\n", counted, index)
                counted = index
                value, index = raw_decode(text, index)
                rows.append(Row(value, line))
                index = _skip_space(text, index)
                if text.startswith("]", index):
                    index += 1
                    break
                if not text.startswith(",", index):
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
                index = _skip_space(text, index + 1)
        if _skip_space(text, index) != len(text):
            raise json.JSONDecodeError("Extra data", text, _skip_space(text, index))
    except json.JSONDecodeError as error:
        raise PipelineError(
            [Problem(path, error.lineno, error.colno, location, f"malformed JSON: {error.msg}")]
        ) from None
    return rows


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _jsonl_rows(text: str, path: str, location: str) -> list[Row]:
    rows: list[Row] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(Row(loads(line), number))
        except json.JSONDecodeError as error:
            problems.append(Problem(path, number, error.colno, location, f"malformed JSON: {error.msg}"))
    if problems:
        raise PipelineError(problems)
    return rows


def _yaml_rows(text: str, path: str, location: str) -> list[Row]:
    document = load_yaml(text, path)
    if not isinstance(document.value, list):
        raise PipelineError(
            [
                Problem(
                    path, 1, 1, location, f"the YAML data must be a list of rows, not {_kind(document.value)}"
                )
            ]
        )
    return [Row(item, document.position((index,))[0]) for index, item in enumerate(document.value)]


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "empty"
    return f"a {type(value).__name__}"
