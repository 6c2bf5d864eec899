"""CSV files as written by people and by Excel: the encoding and the delimiter detected, rows streamed.

Encoding, unless ``encoding:`` is given: a byte-order mark says UTF-8 or UTF-16; otherwise the file
is UTF-8 when every byte of it decodes as UTF-8, and Windows-1251 when it does not but decodes as
Windows-1251 with its letters (nearly) all Cyrillic, in words of Cyrillic letters. Anything else is
an error asking for ``encoding:``: b24sync never guesses among the single-byte code pages, where any
byte decodes to something and a wrong guess would write mojibake into the portal.

Delimiter, unless ``delimiter:`` is given: of ``,`` ``;`` tab and ``|``, the one that splits the
header and the first rows into the same number of fields, more than one (the widest on a tie, then
in that order); a file that none of them splits has one column.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING

from b24sync.errors import Problem
from b24sync.pipeline.limits import MAX_CSV_FIELD
from b24sync.pipeline.models import FileSource
from b24sync.pipeline.sources.base import Place, SourceContext, SourceError, SourceRead, SourceRow
from b24sync.pipeline.sources.files import HashingReader, open_binary

if TYPE_CHECKING:
    from _csv import Reader as _reader

# the csv module keeps one limit for the process: raised to b24sync's, never below what a caller set
if csv.field_size_limit() < MAX_CSV_FIELD:
    csv.field_size_limit(MAX_CSV_FIELD)

DELIMITERS = (",", ";", "\t", "|")
_SHOWN_DELIMITER = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_SAMPLE_LINES = 50
_SAMPLE_CHARS = 1 << 16
_CHUNK = 1 << 20
# Windows-1251 is chosen only when at least this share of the non-ASCII letters are Cyrillic.
_CYRILLIC_SHARE = 0.9
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_NON_LETTER = re.compile(r"[^\w]", re.UNICODE)
_CYRILLIC_WORD = re.compile(r"\w*[\u0400-\u04ff]\w*")
_LATIN = re.compile(r"[A-Za-z]")

# How the plan names a detected encoding: for people, and the codec name encoding: takes
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16 with BOM",
    "cp1251": "Windows-1251 (cp1251)",
}


def detect_encoding(path: str) -> str:
    """The codec of a CSV file (see the module docstring); ``SourceError`` when it cannot be told."""
    with open_binary(path) as stream:
        head = stream.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        stream.seek(0)
        failure = _first_undecodable(stream, "utf-8")
        if failure is None:
            return "utf-8"
        stream.seek(0)
        if _reads_as_cyrillic(stream):
            return "cp1251"
    byte, line = failure
    raise SourceError(
        f"cannot tell the encoding of {path}: it is not UTF-8 (byte 0x{byte:02x} on line {line}) and does "
        "not read as Windows-1251 text; give the file's encoding (for example encoding: cp1252) and, "
        "if it is not detected, its delimiter (for example delimiter: ';')"
    )


def _first_undecodable(stream: io.BufferedReader, encoding: str) -> tuple[int, int] | None:
    """The first byte that does not decode and its line, or ``None`` when the whole stream decodes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 1
    while True:
        chunk = stream.read(_CHUNK)
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            at = max(0, min(error.start, len(chunk) - 1))
            return chunk[at] if chunk else 0, lines + chunk[: error.start].count(b"\n")
        if not chunk:
            return None
        lines += chunk.count(b"\n")


def _reads_as_cyrillic(stream: io.BufferedReader) -> bool:
    """Whether the bytes are Russian (or other Cyrillic) text in Windows-1251.

    Any byte but 0x98 decodes, and Western text in Windows-1252 decodes to Cyrillic letters too
    (``Müller`` reads ``Mьller``), so the letters must also stand in words of their own: in a file
    mis-read that way nearly every such word mixes Latin and Cyrillic letters.
    """
    decoder = codecs.getincrementaldecoder("cp1251")()
    letters = cyrillic = words = mixed = 0
    tail = ""
    while True:
        chunk = stream.read(_CHUNK)
        try:
            text = tail + decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            return False
        # A word may run on into the next chunk: keep the last partial word for the next round.
        cut = len(text) if not chunk else max(text.rfind(c) for c in " \n\t;,|")
        text, tail = text[: cut + 1], text[cut + 1 :]
        foreign = _NON_LETTER.sub("", "".join(_NON_ASCII.findall(text)))
        letters += len(foreign)
        cyrillic += len(_CYRILLIC.findall(foreign))
        for word in _CYRILLIC_WORD.findall(text):
            words += 1
            mixed += bool(_LATIN.search(word))
        if not chunk:
            return (
                letters > 0
                and cyrillic >= _CYRILLIC_SHARE * letters
                and mixed <= (1 - _CYRILLIC_SHARE) * words
            )


def detect_delimiter(sample: list[str], complete: bool) -> str:
    """The delimiter that splits the sample's records evenly into the most fields (see the module)."""
    best: tuple[bool, int] | None = None
    chosen = ","
    for delimiter in DELIMITERS:
        records = _sample_records(sample, delimiter, complete)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        score = (all(len(r) == width for r in records[1:]), width)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def _sample_records(sample: list[str], delimiter: str, complete: bool) -> list[list[str]] | None:
    """The whole records of the sample split at ``delimiter``; None when it cannot split them."""
    records: list[list[str]] = []
    try:
        for record in csv.reader(sample, delimiter=delimiter, strict=True):
            if record:
                records.append(record)
    except csv.Error as error:
        # a sample cut inside a quoted field (a first record longer than the sample) ends there
        if complete or "unexpected end of data" not in str(error):
            return None
        return records
    if not complete and len(records) > 1:
        records = records[:-1]  # the sample may end inside the last record
    return records


class CsvRows:
    """The rows of one CSV file, streamed: a mapping of the header's names to text per row."""

    def __init__(self, path: str, spec: FileSource, context: SourceContext) -> None:
        self.path = path
        self.spec = spec
        self.location = context.where
        self.problems: list[Problem] = []
        self._count = 0
        self._digest = ""
        self._encoding = ""
        self._delimiter = ""
        if spec.encoding is not None:
            try:
                codecs.lookup(spec.encoding)
            except LookupError:
                raise SourceError(
                    f"unknown encoding {spec.encoding!r}: use a Python codec name such as utf-8, cp1251 "
                    "or utf-16",
                    ("encoding",),
                ) from None

    def rows(self) -> Iterator[SourceRow]:
        """Every row with its first line; bad rows become problems at their own line."""
        encoding = self.spec.encoding or detect_encoding(self.path)
        self._encoding = encoding
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"  # a BOM is never part of the first column's name
        raw = HashingReader(open_binary(self.path))
        text = io.TextIOWrapper(io.BufferedReader(raw, _CHUNK), encoding=encoding, newline="")
        try:
            sample, complete = self._sample(text)
            if sample is None:
                return
            self._delimiter = self.spec.delimiter or detect_delimiter(sample, complete)
            lines: Iterable[str] = chain(sample, text) if not complete else sample
            yield from self._records(csv.reader(lines, delimiter=self._delimiter, strict=True))
            self._digest = raw.hexdigest()
        finally:
            text.close()

    def _sample(self, text: io.TextIOWrapper) -> tuple[list[str] | None, bool]:
        lines: list[str] = []
        size = 0
        try:
            while len(lines) < _SAMPLE_LINES and size < _SAMPLE_CHARS:
                line = text.readline()
                if not line:
                    return lines, True
                lines.append(line)
                size += len(line)
        except UnicodeDecodeError:
            self._undecodable()
            return None, True
        return lines, False

    def _undecodable(self) -> None:
        # The text layer decodes a block at a time and cannot say where: find the byte again.
        with open_binary(self.path) as stream:
            found = _first_undecodable(stream, self._encoding)
        byte, line = found if found is not None else (None, 1)
        shown = f"byte 0x{byte:02x}" if byte is not None else "a byte"
        self.problems.append(
            Problem(
                self.path,
                line,
                1,
                self.location,
                f"the data file is not {self._encoding} text ({shown} does not decode): check encoding",
            )
        )

    def _records(self, reader: _reader) -> Iterator[SourceRow]:
        # one loop over the reader, not a generator of numbered records under this one (100,000
        # rows: 2.4 us a row that way, 2.2 this one; csv.reader making the dicts alone: 0.7)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as error:
            self._unreadable(reader, error)
            return
        if header is None:
            if not self.problems:
                self.problems.append(
                    Problem(self.path, 1, 1, self.location, "the CSV file is empty: it needs a header row")
                )
            return
        seen: set[str] = set()
        for name in header:
            if not name.strip():
                self.problems.append(
                    Problem(self.path, 1, 1, self.location, "the CSV header has an empty column name")
                )
            elif name in seen:
                self.problems.append(
                    Problem(self.path, 1, 1, self.location, f"the CSV header repeats the column {name!r}")
                )
            seen.add(name)
        width = len(header)
        path, before = self.path, reader.line_num
        try:
            for fields in reader:
                line, before = before + 1, reader.line_num  # a record starts after the last one ends
                if not fields:
                    continue
                if len(fields) != width:
                    message = f"the row has {_fields(len(fields))}, the header has {_fields(width)}"
                    self.problems.append(Problem(path, line, 1, self.location, message))
                    continue
                self._count += 1
                yield SourceRow(dict(zip(header, fields, strict=True)), f"{path}:{line}", Place(path, line))
        except (csv.Error, UnicodeDecodeError) as error:
            self._unreadable(reader, error)

    def _unreadable(self, reader: _reader, error: Exception) -> None:
        """A malformed record (the file ends there, with a problem at the line the reader stopped
        on) or text that does not decode."""
        if isinstance(error, UnicodeDecodeError):
            self._undecodable()
            return
        message = f"malformed CSV: {error}"
        if str(error).startswith("field larger than field limit"):
            limit = csv.field_size_limit()
            message = f"a field holds more than {limit:,} characters, the most a CSV field may hold"
        self.problems.append(Problem(self.path, reader.line_num, 1, self.location, message))

    def summary(self) -> SourceRead:
        """Rows read, and the dialect: detected or as given."""
        how = "given" if self.spec.encoding else "detected"
        encoding = ENCODING_NAMES.get(self._encoding, self._encoding)
        delimiter = _SHOWN_DELIMITER.get(self._delimiter, repr(self._delimiter))
        delimiter_how = "given" if self.spec.delimiter else "detected"
        details = (f"delimiter {delimiter} {delimiter_how}", f"encoding {encoding} {how}")
        return SourceRead(self.location, "csv", self.path, self._count, details, sha256=self._digest)


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"
