"""The interface of every source: rows with their origin, then a summary of what was read."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from b24sync.errors import Problem
from b24sync.pipeline.records import record

if TYPE_CHECKING:
    from b24sync.client.hook import B24Hook
    from b24sync.pipeline.models import Source

PortalOpener = Callable[[], "B24Hook"]
"""Opens the portal on first use; only portal sources call it."""


class SourceError(Exception):
    """A source that cannot be read at all; ``key`` is the key of the source spec at fault."""

    def __init__(self, message: str, key: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.key = key


@record
class Place:
    """Where a row or a cell sits in a data file."""

    file: str
    line: int
    col: int = 1
    shown: str | None = None
    """The place as people write it when it is not ``file:line`` (``orders.xlsx:Orders!B17``)."""

    def problem(self, location: str, message: str, code: str = "data-file") -> Problem:
        """A problem at this place."""
        return Problem(self.file, self.line, self.col, location, message, code=code, place=self.shown)

    def __str__(self) -> str:
        return self.shown if self.shown is not None else f"{self.file}:{self.line}"


@record
class SourceRow:
    """One row and where it came from: ``data/x.csv:4``, ``orders.xlsx:Orders!A17``, ``sql row 17``."""

    value: object
    origin: str
    place: Place | None = None


@dataclass(frozen=True)
class SourceRead:
    """What one source read: the plan shows it and keeps it."""

    where: str
    """Which part of the pipeline read it: ``steps[1].for_each`` or ``lookups.managers``."""
    kind: str
    """``csv``, ``xlsx``, ``json``, ``jsonl``, ``yaml``, ``sql`` or ``portal``."""
    name: str
    """The data file, the method, or the environment variable of the database (never its URL)."""
    rows: int
    details: tuple[str, ...] = ()
    requests: int | None = None
    sha256: str = ""
    """Of the file's bytes for a file; of the rows (one canonical JSON line each) otherwise."""
    data: tuple[Any, ...] | None = None
    """The rows themselves, for sources that cannot be read again as they were (the portal)."""


class RowDigest:
    """The SHA-256 of rows, one canonical JSON line each, fed as they stream by."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, row: object) -> None:
        """Feed one row."""
        text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        self._hash.update(text.encode("utf-8") + b"\n")

    def hexdigest(self) -> str:
        """The digest of every row fed so far."""
        return self._hash.hexdigest()


class RowSource(Protocol):
    """Rows read once, problems with their rows, then a summary."""

    problems: list[Problem]

    def rows(self) -> Iterator[SourceRow]:
        """Every good row, in order; bad rows go to ``problems``. Raises ``SourceError``."""
        ...

    def summary(self) -> SourceRead:
        """What was read, once ``rows()`` is exhausted."""
        ...


@dataclass
class SourceContext:
    """What opening a source needs besides its spec."""

    where: str
    folder: str
    environ: Mapping[str, str]
    portal: PortalOpener | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    """The source's rendered parameters (portal ``params``, SQL ``params``)."""


def open_source(spec: Source, context: SourceContext) -> RowSource:
    """The source ``spec`` names; ``SourceError`` when it cannot be opened."""
    from b24sync.pipeline.models import PortalSource, SqlSource

    if isinstance(spec, SqlSource):
        from b24sync.pipeline.sources.sql import SqlRows

        return SqlRows(spec.sql, context)
    if isinstance(spec, PortalSource):
        from b24sync.pipeline.sources.portal import PortalRows

        return PortalRows(spec.portal, context)
    from b24sync.pipeline.sources.files import open_file

    return open_file(spec, context)


class Recorded:
    """A source whose rows are kept as they go by, for the other readers of the same file (``Replayed``).

    ``kept`` is the rows once they were all read without a ``SourceError``; else ``None``.
    """

    def __init__(self, source: RowSource) -> None:
        self._source = source
        self.problems = source.problems
        self.kept: list[SourceRow] | None = None

    def rows(self) -> Iterator[SourceRow]:
        """The source's rows, kept."""
        kept: list[SourceRow] = []
        for row in self._source.rows():
            kept.append(row)
            yield row
        self.kept = kept

    def summary(self) -> SourceRead:
        """The source's summary."""
        return self._source.summary()


class Replayed:
    """The rows another part of the pipeline read from the same file, served again."""

    def __init__(self, first: Recorded, where: str) -> None:
        assert first.kept is not None
        self._rows = first.kept
        self._summary = replace(first.summary(), where=where)
        self.problems: list[Problem] = []

    def rows(self) -> Iterator[SourceRow]:
        """The rows as the first reader got them."""
        yield from self._rows

    def summary(self) -> SourceRead:
        """The first read's summary, for this part of the pipeline."""
        return self._summary
