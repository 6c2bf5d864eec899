"""Rows of a ``for_each`` data file (.csv with a header row, .json, .jsonl, .yaml), each with its line.

A problem in a data file points at the data file's own line, so the user can fix the row.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from b24sync.errors import PipelineError, Problem
from b24sync.pipeline.limits import loads, raw_decode
from b24sync.pipeline.yamlio import load_yaml

SUFFIXES = (".csv", ".json", ".jsonl", ".yaml", ".yml")


class UnreadableDataFile(Exception):
    """A data file that cannot be opened or has an unknown type; the pipeline file is at fault."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a data file and the line it starts on."""

    value: object
    line: int


def read_rows(path: str, location: str) -> list[Row]:
    """Every row of the data file at ``path``; raise ``PipelineError`` listing every bad row.

    Raises ``UnreadableDataFile`` when the file cannot be read at all.
    """
    if "\0" in path:
        raise UnreadableDataFile("the data file name holds a NUL character, which no file name can hold")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise UnreadableDataFile(
            f"unsupported data file type {suffix or '(none)'!r}; use .csv, .json, .jsonl or .yaml"
        )
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        raise UnreadableDataFile(_missing_file_message(path)) from None
    except OSError as error:
        raise UnreadableDataFile(f"cannot read data file {path}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise PipelineError([Problem(path, line, 1, location, "the data file is not UTF-8 text")]) from None
    if suffix == ".csv":
        return _csv_rows(text, path, location)
    if suffix == ".json":
        return _json_rows(text, path, location)
    if suffix == ".jsonl":
        return _jsonl_rows(text, path, location)
    return _yaml_rows(text, path, location)


def _csv_rows(text: str, path: str, location: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    rows: list[Row] = []
    records = _csv_records(reader, path, location, problems)
    header_record = next(records, None)
    if header_record is None:
        if not problems:
            problems.append(Problem(path, 1, 1, location, "the CSV file is empty: it needs a header row"))
        raise PipelineError(problems)
    header, _ = header_record
    seen: set[str] = set()
    for name in header:
        if not name.strip():
            problems.append(Problem(path, 1, 1, location, "the CSV header has an empty column name"))
        elif name in seen:
            problems.append(Problem(path, 1, 1, location, f"the CSV header repeats the column {name!r}"))
        seen.add(name)
    width = len(header)
    for fields, line in records:
        if not fields:
            continue
        if len(fields) != width:
            problems.append(
                Problem(
                    path,
                    line,
                    1,
                    location,
                    f"the row has {_fields(len(fields))}, the header has {_fields(width)}",
                )
            )
            continue
        rows.append(Row(dict(zip(header, fields, strict=True)), line))
    if problems:
        raise PipelineError(problems)
    return rows


def _csv_records(
    reader: Iterator[list[str]], path: str, location: str, problems: list[Problem]
) -> Iterator[tuple[list[str], int]]:
    """Records with the line each starts on; a malformed record ends the file with a problem."""
    line_num = getattr(reader, "line_num", 0)
    while True:
        start = line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.append(
                Problem(path, getattr(reader, "line_num", start), 1, location, f"malformed CSV: {error}")
            )
            return
        line_num = getattr(reader, "line_num", start)
        yield fields, start


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


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"


def _missing_file_message(path: str) -> str:
    folder, name = os.path.split(path)
    try:
        near = difflib.get_close_matches(name, os.listdir(folder or "."), n=1)
    except OSError:
        near = []
    if near:
        return f"data file {path} does not exist (did you mean {near[0]!r}?)"
    return (
        f"data file {path} does not exist: check the name (for_each paths are relative to the pipeline file)"
    )
