"""Data files: which reader a file's type needs, and the checks every file shares."""

from __future__ import annotations

import difflib
import hashlib
import io
import os
from typing import Any

from b24sync.pipeline.models import FileSource
from b24sync.pipeline.sources.base import RowSource, SourceContext, SourceError

CSV_SUFFIXES = (".csv", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
STRUCTURED_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml")
SUFFIXES = (".csv", ".xlsx", ".json", ".jsonl", ".yaml")
_CHUNK = 1 << 20


def data_path(spec: FileSource, context: SourceContext) -> str:
    """The file's path as the user sees it: relative to the folder of the pipeline file."""
    return os.path.join(context.folder, spec.file) if context.folder else spec.file


def open_file(spec: FileSource, context: SourceContext) -> RowSource:
    """The reader of a data file; ``SourceError`` for a type or an option that does not fit."""
    path = data_path(spec, context)
    if "\0" in path:
        raise SourceError("the data file name holds a NUL character, which no file name can hold", ("file",))
    suffix = os.path.splitext(path)[1].lower()
    csv_options = [name for name in ("delimiter", "encoding") if getattr(spec, name) is not None]
    excel_options = [name for name in ("sheet", "header_row") if getattr(spec, name) is not None]
    if suffix in CSV_SUFFIXES:
        if excel_options:
            raise SourceError(f"{excel_options[0]} applies to Excel files (.xlsx) only", (excel_options[0],))
        from b24sync.pipeline.sources.csvfile import CsvRows

        return CsvRows(path, spec, context)
    if csv_options:
        raise SourceError(f"{csv_options[0]} applies to CSV files only", (csv_options[0],))
    if suffix in EXCEL_SUFFIXES:
        from b24sync.pipeline.sources.excel import ExcelRows

        return ExcelRows(path, spec, context)
    if excel_options:
        raise SourceError(f"{excel_options[0]} applies to Excel files (.xlsx) only", (excel_options[0],))
    if suffix in STRUCTURED_SUFFIXES:
        from b24sync.pipeline.sources.structured import StructuredRows

        return StructuredRows(path, suffix, context)
    raise SourceError(
        f"unsupported data file type {suffix or '(none)'!r}; use .csv, .xlsx, .json, .jsonl or .yaml",
        ("file",),
    )


def open_binary(path: str) -> io.BufferedReader:
    """The file opened for reading; ``SourceError`` naming the file when it cannot be."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise SourceError(missing_file_message(path), ("file",)) from None
    except IsADirectoryError:
        raise SourceError(f"data file {path} is a folder, not a file", ("file",)) from None
    except OSError as error:
        raise SourceError(f"cannot read data file {path}: {error.strerror or error}", ("file",)) from None


class HashingReader(io.RawIOBase):
    """A binary stream that hashes what is read through it: a file is read once for rows and digest."""

    def __init__(self, stream: io.BufferedReader) -> None:
        super().__init__()
        self._stream = stream
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._stream.readinto(buffer)
        if count:
            self._hash.update(memoryview(buffer)[:count])
        return count or 0

    def close(self) -> None:
        self._stream.close()
        super().close()

    def hexdigest(self) -> str:
        """The digest of the whole file; what is left unread is read now."""
        while self._stream.readable() and (chunk := self._stream.read(_CHUNK)):
            self._hash.update(chunk)
        return self._hash.hexdigest()


def file_digest(path: str) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open_binary(path) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def missing_file_message(path: str) -> str:
    """The file does not exist: the closest name in its folder, or where paths are relative to."""
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
