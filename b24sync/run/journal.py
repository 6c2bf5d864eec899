"""The run journal: a write-ahead record of every request, so a killed run still knows what it sent.

The journal is a text file of JSON lines, appended to and never rewritten, kept beside the report
(``REPORT.journal``, see ``journal_path``). Four kinds of line:

- ``{"run": RUN_ID, "pipeline": {"path": ..., "sha256": ..., "data_sha256": ...}, "target": URL,
  "started_at": TIME}``:
  a run begins (a resumed run appends its own, so one journal can hold several runs of one report);
- ``{"sending": N, "keys": [...], "repeatable": [...]}``: request ``N`` of the run is about to go out
  with these commands (``repeatable``: those safe to send twice; a ``crm.item.batchImport`` command is
  named by the keys of its records, each of which its answer settles apart, ``run.importing``). The
  line is forced to disk (``fsync``) **before** the request is sent, which also forces every line
  before it;
- ``{"carried": {KEY: {"status": "succeeded", "result": ...}}}``: what a resumed run takes as done
  from the runs before it (so the journal of a resumed run is enough on its own), ``CARRIED_PER_LINE``
  commands a line;
- ``{"answer": N, "outcomes": {KEY: {"status": ..., "result": ..., "error_code": ..., ...}}}``:
  what request ``N`` settled. Commands of the request that are not in it were not reached and go
  out again in a later request.

``read_journal`` replays the lines: the last word on each command key wins; a command whose request
has no answer line is ``unknown`` (a write: it may or may not have been applied) or simply not run
(safe to send again). A last line cut short by a kill is ignored. The executor calls a ``Journal``
(``record_sending`` / ``record_answer``), one object per run, safe to call from several threads.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import JsonValue

from b24sync.client.encoding import compact_json
from b24sync.client.redaction import Redactor
from b24sync.errors import UsageError
from b24sync.report.files import AppendFile, open_append
from b24sync.run.recorded import Recorded

JOURNAL_SUFFIX = ".journal"
JOURNAL_VERSION = 1
CARRIED_PER_LINE = 10_000
"""Commands of a ``carried`` line: a resumed run of a million commands writes a hundred lines."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one command of an answered request ended as."""

    status: str
    result: JsonValue = None
    error_code: str | None = None
    error_description: str | None = None

    def as_json(self) -> dict[str, JsonValue]:
        entry: dict[str, JsonValue] = {"status": self.status}
        if self.result is not None:
            entry["result"] = self.result
        if self.error_code is not None:
            entry["error_code"] = self.error_code
        if self.error_description is not None:
            entry["error_description"] = self.error_description
        return entry


def pruned(result: JsonValue, paths: Collection[tuple[str | int, ...]]) -> JsonValue:
    """What of a result the journal keeps: the values at ``paths`` (what links read) and the created
    id of an ``*.add`` (``{"item": {"id": 7}}``, protocol §9.2), so a resumed run links and reports ids
    as the first would have; a bare scalar result is kept whole. The rest is in the report only."""
    if not isinstance(result, (dict, list)):
        return result
    kept: JsonValue = None
    if isinstance(result, dict) and len(result) == 1:
        ((name, inner),) = result.items()
        if isinstance(inner, dict) and "id" in inner:
            kept = {name: {"id": inner["id"]}}
    for path in paths:
        kept = _graft(kept, result, path)
    return kept


def _graft(kept: JsonValue, whole: JsonValue, path: tuple[str | int, ...]) -> JsonValue:
    # walks as b24sync.run.links.follow does: a map by the text of the step; a list is kept whole
    if not path or not isinstance(whole, dict):
        return whole if not path or isinstance(whole, list) else kept
    head = str(path[0])
    if head not in whole:
        return kept
    base = kept if isinstance(kept, dict) else {}
    inner = _graft(base.get(head), whole[head], path[1:])
    if inner is None:
        return kept
    base[head] = inner
    return base


class Journal(Protocol):
    """Where the executor records each request before it is sent and each answer after."""

    def record_sending(self, request_id: int, keys: Sequence[str], repeatable: Collection[str]) -> None:
        """Record (durably, before the request goes out) which commands request ``request_id`` carries."""

    def record_answer(self, request_id: int, outcomes: Mapping[str, Outcome]) -> None:
        """Record what request ``request_id`` settled."""


class NoJournal:
    """A journal that records nothing: for runs whose writes cannot outlive the process (an
    in-process emulator without a state file) and for tests of the executor alone."""

    def record_sending(self, request_id: int, keys: Sequence[str], repeatable: Collection[str]) -> None:
        return None

    def record_answer(self, request_id: int, outcomes: Mapping[str, Outcome]) -> None:
        return None


class JournalWriter:
    """The journal of one run, appended to ``path``; every line passes the run's redactor."""

    def __init__(self, path: str | os.PathLike[str], redact: Redactor | None = None) -> None:
        self.path = Path(path)
        self._redact = redact or Redactor()
        self._lock = threading.Lock()
        self._file: AppendFile = open_append(self.path, what="run journal", make_parents=True)

    def start(self, run_id: str, pipeline: Mapping[str, JsonValue], target: str, started_at: str) -> None:
        """The first line of a run: which pipeline, which portal; forced to disk."""
        self._write(
            {
                "run": run_id,
                "journal": JOURNAL_VERSION,
                "pipeline": dict(pipeline),
                "target": target,
                "started_at": started_at,
            },
            sync=True,
        )

    def record_sending(self, request_id: int, keys: Sequence[str], repeatable: Collection[str]) -> None:
        self._write(
            {"sending": request_id, "keys": list(keys), "repeatable": [k for k in keys if k in repeatable]},
            sync=True,
        )

    def record_carried(self, results: Mapping[str, JsonValue]) -> None:
        """Record the results a resumed run takes from earlier runs, so this journal alone is enough.

        ``CARRIED_PER_LINE`` to a line: the results of a million-command run are never one text.
        Only the last line is forced to disk; it forces those before it (the report they come
        from is still there until this run writes its own)."""
        keys = list(results)
        for start in range(0, len(keys), CARRIED_PER_LINE):
            chunk = keys[start : start + CARRIED_PER_LINE]
            self._write(
                {"carried": {key: Outcome("succeeded", results[key]).as_json() for key in chunk}},
                sync=start + CARRIED_PER_LINE >= len(keys),
            )

    def record_answer(self, request_id: int, outcomes: Mapping[str, Outcome]) -> None:
        # not forced: a lost answer line leaves its commands unknown, which is safe; the next
        # request's fsync writes it out anyway
        self._write(
            {"answer": request_id, "outcomes": {key: o.as_json() for key, o in outcomes.items()}}, sync=False
        )

    def _write(self, entry: dict[str, Any], *, sync: bool) -> None:
        line = compact_json(entry)
        if self._redact:
            line = self._redact(line)
        with self._lock:
            self._file.append(line + "\n", sync=sync)

    def close(self) -> None:
        """Close the file; the journal stays on disk."""
        with self._lock:
            self._file.close()

    def remove(self) -> None:
        """Close and delete the journal: the report written after the run holds all it said."""
        self.close()
        self.path.unlink(missing_ok=True)


def journal_path(report: str | os.PathLike[str]) -> Path:
    """The journal of a report: ``REPORT.journal`` beside it; a path ending in ``.journal`` is one."""
    text = os.fspath(report)
    return Path(text if text.endswith(JOURNAL_SUFFIX) else text + JOURNAL_SUFFIX)


@dataclass(frozen=True, slots=True)
class RunHeader:
    """The first line of one run in a journal."""

    run_id: str
    pipeline_path: str
    pipeline_sha256: str
    target: str
    data_sha256: str | None = None
    """The plan's ``pipeline.data_sha256``; ``None`` in a journal written before it was recorded."""


@dataclass
class JournalState:
    """What a journal says: the runs it holds, and the last word on every command key it names."""

    runs: list[RunHeader] = field(default_factory=list)
    results: Recorded = field(default_factory=Recorded)
    """The result of every command the journal saw succeed, by key (kept small: ``run.recorded``)."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Commands whose request was answered with anything but success (or whose answer was lost:
    ``unknown``)."""
    in_flight: dict[str, bool] = field(default_factory=dict)
    """Commands sent with no answer recorded, mapped to whether they are safe to send again."""

    def settle(self, key: str, outcome: Outcome) -> None:
        """The last word on ``key`` so far."""
        if outcome.status == "succeeded":
            self.outcomes.pop(key, None)
            self.results[key] = outcome.result
        else:
            self.results.pop(key, None)
            self.outcomes[key] = outcome

    def forget(self, key: str) -> None:
        """``key`` was sent again: what was said of it before no longer holds."""
        self.outcomes.pop(key, None)
        self.results.pop(key, None)

    def unknown(self) -> list[str]:
        """Keys of writes whose outcome the journal cannot tell (sent, no answer), in journal order."""
        lost = [k for k, repeatable in self.in_flight.items() if not repeatable]
        return lost + [
            k for k, o in self.outcomes.items() if o.status == "unknown" and k not in self.in_flight
        ]

    def succeeded(self) -> dict[str, JsonValue]:
        """The result of every command the journal saw succeed, by key."""
        return dict(self.results)


def read_journal(path: str | os.PathLike[str]) -> JournalState:
    """Replay a journal a line at a time; a bad line (other than a last line cut short by a kill)
    is a ``UsageError``."""
    source = Path(path)
    state = JournalState()
    sent: dict[int, tuple[list[str], set[str]]] = {}
    try:
        with source.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line.decode("utf-8"))
                    _replay(entry, state, sent)
                except (ValueError, KeyError, TypeError, AttributeError):
                    if not line.endswith(b"\n"):  # the last line, cut short by a kill: never answered
                        break
                    raise UsageError(
                        f"run journal {source} line {number} is not a journal entry: it was edited or damaged"
                    ) from None
    except OSError as error:
        raise UsageError(f"cannot read run journal {source}: {error.strerror or error}") from None
    return state


def _replay(entry: Any, state: JournalState, sent: dict[int, tuple[list[str], set[str]]]) -> None:
    if "run" in entry:
        pipeline = entry["pipeline"]
        state.runs.append(
            RunHeader(
                str(entry["run"]),
                str(pipeline["path"]),
                str(pipeline["sha256"]),
                str(entry["target"]),
                None if pipeline.get("data_sha256") is None else str(pipeline["data_sha256"]),
            )
        )
        sent.clear()  # request numbers start again with each run
    elif "sending" in entry:
        keys = [str(k) for k in entry["keys"]]
        repeatable = {str(k) for k in entry["repeatable"]}
        sent[int(entry["sending"])] = (keys, repeatable)
        for key in keys:
            state.forget(key)
            state.in_flight[key] = key in repeatable
    elif "answer" in entry:
        keys, _ = sent.pop(int(entry["answer"]), ([], set()))
        outcomes = entry["outcomes"]
        for key in keys:
            state.in_flight.pop(key, None)  # not in the outcomes: not reached, sent again later
        for key, value in outcomes.items():
            state.settle(
                str(key),
                Outcome(
                    status=str(value["status"]),
                    result=value.get("result"),
                    error_code=value.get("error_code"),
                    error_description=value.get("error_description"),
                ),
            )
    elif "carried" in entry:
        for key, value in entry["carried"].items():
            state.in_flight.pop(str(key), None)
            state.settle(str(key), Outcome(status=str(value["status"]), result=value.get("result")))
    else:
        raise KeyError("kind")
