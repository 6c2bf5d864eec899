"""Output files: the one writer of every file b24sync produces, and the run report's JSON file.

Plans, reports, JUnit, Markdown and the emulator's state all go through ``write_output``, with one
policy for atomic replacement, devices and errors. The report file is the ``RunReport`` model dumped
as indented UTF-8 JSON, keys in the model's field order, so the same report always gives the same
bytes (docs/report.md); ``read_report`` reads one back with a one-line error for any bad file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from b24sync.client.redaction import Redactor
from b24sync.errors import UsageError
from b24sync.report.model import (
    REPORT_SCHEMA_VERSION,
    Entries,
    PipelineRef,
    ReportResults,
    RunReport,
    StepResult,
    derived_fields,
    lean_entry,
    results_kept,
    step_methods,
)

# Where pydantic's JSON differs from json.dumps: floats from 1e-9 to 1e-4 (0.00001 for 1e-05, 3.2e-7 for
# 3.2e-07). Text that merely looks like one only costs the slower encoder.
# Two searches with a literal start each, which re scans for fast (one alternation of both is 20x
# slower: 0.23 s over the 8 MB report of 5,000 full entries, against 0.01 s).
_PYDANTIC_FLOATS = (re.compile(r"0\.0000\d"), re.compile(r"e-\d(?<=\de-\d)(?!\d)"))

_NAME_MAX = 255
"""The longest file name (bytes) the common file systems take."""


def dump_report(report: RunReport, results: ReportResults | None = None) -> str:
    """The report as indented UTF-8 JSON text, keys in the model's field order, ending in a newline.

    ``results`` (``report.model.results_kept``): a ``full`` report is every field of every entry; a lean
    one (``ids``, ``none``) writes each step entry on one line without its default-valued fields.
    """
    return "".join(iter_report(report, results))


_EMPTY_STEPS = '\n  "steps": [],\n'


def iter_report(report: RunReport, results: ReportResults | None = None) -> Iterator[str]:
    """``dump_report`` in pieces: a lean report yields its entries a line at a time, so a report of
    a million entries is written without being one text in memory."""
    kept = results_kept(report, results)
    if kept == "full":
        full = report.model_copy(update={"results": "full"}) if report.results != "full" else report
        if len(full.steps) <= _FULL_CHUNK:
            yield _dump(full)
            return
        # a chunk of entries at a time: the same bytes as one dump, in pieces a few hundred KB long
        # that the allocator hands round again, where one 8 MB text (and pydantic's buffer growing
        # to it) is fresh memory the kernel maps page by page (cold process, 5,000 full entries:
        # tests/bench/bench_report.py)
        head, after = _dump(full.model_copy(update={"steps": ()})).split(_EMPTY_STEPS, 1)
        yield head + '\n  "steps": [\n'
        entries = full.steps
        for start in range(0, len(entries), _FULL_CHUNK):
            chunk = full.model_copy(update={"steps": tuple(entries[start : start + _FULL_CHUNK])})
            text = _dump(chunk, only_steps=True)
            more = start + _FULL_CHUNK < len(entries)
            yield text[len(_CHUNK_HEAD) : -len(_CHUNK_TAIL)] + (",\n" if more else "\n")
        yield "  ],\n" + after
        return
    steps = report.steps
    methods = steps.methods() if isinstance(steps, Entries) else step_methods(steps)
    head = _dump(report.model_copy(update={"results": kept, "steps": (), "methods": methods}))
    if not report.steps:
        yield head
        return
    before, after = head.split(_EMPTY_STEPS, 1)
    yield before + '\n  "steps": [\n'
    last = len(report.steps) - 1
    lines = (
        steps.lean_lines(kept, methods)
        if isinstance(steps, Entries)
        else (lean_entry(step, kept, methods) for step in steps)
    )
    for position, line in enumerate(lines):
        yield "    " + line + (",\n" if position < last else "\n")
    yield "  ],\n" + after


_FULL_CHUNK = 200
"""Entries of a full report dumped at a time (about 300 KB of text for 200 ``crm.item.add`` results)."""
_CHUNK_HEAD = '{\n  "steps": [\n'
_CHUNK_TAIL = "\n  ]\n}\n"


def _dump(report: RunReport, only_steps: bool = False) -> str:
    # pydantic writes the same bytes as json.dumps(indent=2, ensure_ascii=False) ten times faster, but
    # for some small floats and lone surrogates from a portal: those take json.dumps
    # ``methods`` belongs to lean reports only (what their entries leave out); ``only_steps``: the
    # report's entries alone, at the depth they have in the report (``{"steps": [...]}``)
    include = {"steps"} if only_steps else None
    exclude = None if only_steps or report.methods else {"methods"}
    try:
        text = report.model_dump_json(indent=2, include=include, exclude=exclude)
    except PydanticSerializationError:
        text = None
    if text is None or any(pattern.search(text) for pattern in _PYDANTIC_FLOATS):
        data = report.model_dump(mode="json", include=include, exclude=exclude)
        text = json.dumps(data, ensure_ascii=False, indent=2)
    return text + "\n"


def write_report(
    report: RunReport,
    path: str | os.PathLike[str],
    results: ReportResults | None = None,
    *,
    refuse: Redactor | None = None,
) -> bool:
    """Write the report as JSON atomically: a reader sees the old file or the whole new one, never half.

    ``refuse``: the text is searched for its secrets on its way to the file (``write_output``), and
    when it holds one nothing is written and the answer is False.
    """
    return write_output(path, iter_report(report, results), what="report", refuse=refuse)


def write_output(
    path: str | os.PathLike[str],
    text: str | Iterable[str],
    *,
    what: str,
    append: bool = False,
    make_parents: bool = False,
    refuse: Redactor | None = None,
) -> bool:
    """Write ``text`` (one text, or its pieces in order) as UTF-8 to ``path``: every file b24sync
    produces goes through here.

    A regular file (or a new one) is replaced atomically through a temp file and a rename, so a
    reader sees the old file or the whole new one; ``append`` adds to the end instead (a CI job
    summary). A path that exists and is not a regular file (``/dev/null``, a FIFO, a terminal) is
    written in place, never replaced. ``make_parents`` creates missing folders first (a state file in
    a git-ignored folder that a fresh clone lacks). Any failure is one ``UsageError`` naming ``what``
    and the path.

    ``refuse``: every piece is searched for a secret of this redactor before it is written (across
    the joins of the pieces too); when one holds a secret, nothing of the text reaches the file (the
    temp file is removed, a file written in place is not opened) and the answer is False.
    """
    if "\0" in os.fspath(path):
        raise UsageError(f"cannot write {what} {os.fspath(path)!r}: a file name cannot hold a NUL character")
    target = Path(path)
    if make_parents:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _write_error(what, target, error) from None
    # A portal can send an escaped lone surrogate ("\ud800") that json.loads keeps as is; UTF-8 cannot
    # encode it, so it is written as the same JSON escape, which reads back identical.
    pieces: Iterable[str] = [text] if isinstance(text, str) else text
    if refuse:
        pieces = _searched(pieces, refuse)
    try:
        special = target.exists() and not target.is_file()
    except OSError as error:
        raise _write_error(what, target, error) from None
    try:
        if append or special:
            if refuse:
                pieces = list(pieces)  # searched whole before the file is opened: no half is written
            try:
                with open(target, "ab" if append else "wb") as handle:
                    handle.writelines(_encoded(pieces))
            except OSError as error:
                raise _write_error(what, target, error) from None
            return True
        _replace(target, _encoded(pieces), what)
    except _Refused:
        return False
    return True


class _Refused(Exception):
    """A piece of a text holds a secret: raised through the writer, which removes its temp file."""


def _searched(pieces: Iterable[str], redact: Redactor) -> Iterator[str]:
    # A secret can straddle two pieces: the end of the last one (a character short of the longest
    # form) is searched again with the start of the next.
    reach = redact.longest - 1
    tail = ""
    for piece in pieces:
        if redact.finds(piece) or (tail and redact.finds(tail + piece[:reach])):
            raise _Refused
        yield piece
        if reach:
            tail = (tail + piece)[-reach:] if len(piece) < reach else piece[-reach:]


def _encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    # a piece at a time, joined by the file's buffer: a long report is never one text in memory
    for piece in pieces:
        yield piece.encode("utf-8", errors="backslashreplace")


def _replace(target: Path, data: Iterable[bytes], what: str) -> None:
    # A fresh name in the same directory, so os.replace is a rename on one file system; os.open with
    # mode 0o666 lets the umask decide the permissions, as for any file the user creates.
    temp = _temp_name(target)
    try:
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise _write_error(what, target, error) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.writelines(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise _write_error(what, target, error) from None
    except BaseException:
        # Ctrl-C in the middle of the write must not leave the temp file behind either.
        temp.unlink(missing_ok=True)
        raise


def _temp_name(target: Path) -> Path:
    # the name is cut so that a file name near the limit still gets a temp name the file system takes
    return target.parent / f".{target.name[: _NAME_MAX - 40]}.{uuid.uuid4().hex}.tmp"


def _write_error(what: str, target: Path, error: OSError) -> UsageError:
    return UsageError(f"cannot write {what} {target}: {error.strerror or error}: choose a writable path")


@dataclass(frozen=True)
class ReportEntries:
    """A report read a line at a time (``read_entries``): what comes before its entries, and them."""

    pipeline: PipelineRef
    target: str
    entries: Iterator[StepResult]
    """The entries in report order; the file is checked to its end as they are read (a damaged line
    or a report cut short raises the one-line ``UsageError`` of ``read_report`` when it is reached)."""


_STEPS_OPEN = '  "steps": [\n'
_HEAD_MAX = 64 * 2**20
"""The most text a lean report holds before its entries: its batches, six lines each (3 MB for the
20,000 requests of a million commands); a file with more is read whole, as it is no such report."""


def read_entries(path: str | os.PathLike[str]) -> ReportEntries:
    """Read a report's entries one at a time, for ``--resume`` of a million commands.

    A lean report (``ids``, ``none``) writes an entry a line: its 137 MB for a million commands are
    read a line at a time, never held whole, and never made one ``RunReport`` (which would take
    gigabytes). A full report is read whole by ``read_report``, as it always was (full is the default
    up to 10,000 entries)."""
    source = Path(path)
    advice = "pass a report written by b24sync apply --report"
    try:
        stream = source.open(encoding="utf-8")
    except OSError:
        return _whole_entries(source)  # read_report says why, in its words
    try:
        head: list[str] = []
        size = 0
        for line in stream:
            if line == _STEPS_OPEN:
                break
            head.append(line)
            size += len(line)
            if size > _HEAD_MAX:
                break
        first = "" if size > _HEAD_MAX else stream.readline()
    except (UnicodeDecodeError, OSError):
        stream.close()
        return _whole_entries(source)
    if not first.startswith("    {") or first.strip() in ("{", "{}"):
        stream.close()  # not a lean report's entry line: a full report, or no b24sync report at all
        return _whole_entries(source)
    try:
        data = json.loads("".join(head) + '  "steps": []\n}')
        if not isinstance(data, dict) or data.get("schema_version") != REPORT_SCHEMA_VERSION:
            raise ValueError("not a report of this version")
        pipeline = PipelineRef.model_validate(data.get("pipeline"))
        target, methods = data.get("target"), data.get("methods", {})
        if not isinstance(target, str) or not isinstance(methods, dict):
            raise ValueError("no target or methods")
    except ValueError:
        stream.close()
        return _whole_entries(source)
    entries = _lean_entries(source, stream, first, len(head) + 2, methods, advice)
    return ReportEntries(pipeline, target, entries)


def _whole_entries(source: Path) -> ReportEntries:
    report = read_report(source)
    return ReportEntries(report.pipeline, report.target, iter(report.steps))


def _lean_entries(
    source: Path, stream: TextIO, first: str, number: int, methods: dict[str, str], advice: str
) -> Iterator[StepResult]:
    seen = 0
    line = first
    try:
        with stream:
            lines = iter(stream)
            while line.startswith("    {"):
                text = line.strip()
                try:
                    entry = json.loads(text[:-1] if text.endswith(",") else text)
                    (whole,) = derived_fields([entry], methods)
                    yield StepResult.model_validate(whole)
                except (ValueError, TypeError) as error:
                    problem = _first_problem(error) if isinstance(error, ValidationError) else "not JSON"
                    raise UsageError(
                        f"report {source} line {number} is not a report entry ({problem}): {advice}"
                    ) from None
                seen += 1
                number += 1
                line = next(lines, "")
            tail = line + "".join(lines)
    except UnicodeDecodeError:
        raise UsageError(f"report {source} is not UTF-8 text: {advice}") from None
    except OSError as error:
        raise UsageError(f"cannot read report {source}: {error.strerror or error}: {advice}") from None
    try:
        rest = json.loads("{" + tail.removeprefix("  ],"))
        if not isinstance(rest, dict) or rest.get("results") not in ("ids", "none"):
            raise ValueError("not the end of a lean report")
    except ValueError:
        raise UsageError(
            f"report {source} ends after {seen} entries without the end of a report (cut short?): {advice}"
        ) from None


def read_report(path: str | os.PathLike[str]) -> RunReport:
    """Read a report written by ``write_report``; any problem is a one-line ``UsageError``."""
    source = Path(path)
    advice = "pass a report written by b24sync apply --report"
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"report {source} does not exist: {advice}") from None
    except OSError as error:
        raise UsageError(f"cannot read report {source}: {error.strerror or error}: {advice}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"report {source} is not UTF-8 text: {advice}") from None
    except json.JSONDecodeError as error:
        raise UsageError(
            f"report {source} is not JSON (line {error.lineno} column {error.colno}: {error.msg}): {advice}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"report {source} is not a b24sync run report (not a JSON object): {advice}")
    if "schema_version" not in data:
        raise UsageError(f"report {source} has no schema_version, so it is not a run report: {advice}")
    version = data["schema_version"]
    if version != REPORT_SCHEMA_VERSION:
        raise UsageError(
            f"report {source} has schema_version {json.dumps(version)}, this b24sync reads "
            f"{REPORT_SCHEMA_VERSION}: use the b24sync version that wrote it"
        )
    try:
        return RunReport.model_validate(data)
    except ValidationError as error:
        raise UsageError(
            f"report {source} is not a valid b24sync run report ({_first_problem(error)}): {advice}"
        ) from None


def _first_problem(error: ValidationError) -> str:
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].splitlines()[0]
    more = f"; {len(problems) - 1} more" if len(problems) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


class AppendFile:
    """A file b24sync appends lines to and forces to disk (the run journal); opened by ``open_append``."""

    def __init__(self, path: Path, descriptor: int, what: str) -> None:
        self.path = path
        self.what = what
        self._descriptor = descriptor

    def append(self, text: str, *, sync: bool) -> None:
        """Append ``text`` (one or more whole lines); ``sync`` forces it, and all before it, to disk."""
        data = text.encode("utf-8", errors="backslashreplace")
        try:
            while data:
                written = os.write(self._descriptor, data)
                data = data[written:]
            if sync:
                os.fsync(self._descriptor)
        except OSError as error:
            raise _write_error(self.what, self.path, error) from None

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


def open_append(path: str | os.PathLike[str], *, what: str, make_parents: bool = False) -> AppendFile:
    """Open ``path`` for appending, creating it (and its folder with ``make_parents``); a ``UsageError``
    naming ``what`` and the path when it cannot be written."""
    if "\0" in os.fspath(path):
        raise UsageError(f"cannot write {what} {os.fspath(path)!r}: a file name cannot hold a NUL character")
    target = Path(path)
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    except OSError as error:
        raise _write_error(what, target, error) from None
    return AppendFile(target, descriptor, what)


def check_writable(
    path: str | os.PathLike[str], *, what: str, append: bool = False, make_parents: bool = False
) -> None:
    """Prove before a run sends anything that ``path`` can be written as ``write_output`` would.

    A regular (or new) file needs a file of its own created beside it (the temp file of the atomic
    replace); a device or FIFO must open for writing without blocking. Nothing is changed: the probe
    file is removed and an existing file is left as it is. A failure is one ``UsageError``.
    """
    if "\0" in os.fspath(path):
        raise UsageError(f"cannot write {what} {os.fspath(path)!r}: a file name cannot hold a NUL character")
    target = Path(path)
    try:
        special = target.exists() and not target.is_file()
    except OSError as error:
        raise _write_error(what, target, error) from None
    try:
        if make_parents and not target.parent.exists():
            # the folders are made when the file is written: the nearest existing one must take them
            folder = target.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            if not os.access(folder, os.W_OK | os.X_OK):
                raise OSError(errno.EACCES, os.strerror(errno.EACCES))
            return
        if append and not special and target.is_file():
            os.close(os.open(target, os.O_WRONLY | os.O_APPEND))
            return
        if special:
            # O_NONBLOCK: a FIFO with no reader yet must not hang the check (ENXIO says so, and is fine)
            try:
                descriptor = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno == errno.ENXIO:
                    return
                raise
            os.close(descriptor)
            return
        if len(target.name.encode("utf-8", errors="surrogateescape")) > _NAME_MAX:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
        probe = _temp_name(target)
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            # one block written and forced out, so a full disk shows now rather than after the run
            os.write(descriptor, b"\0" * 4096)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
            probe.unlink(missing_ok=True)
    except OSError as error:
        raise _write_error(what, target, error) from None
