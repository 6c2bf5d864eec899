"""The files one ``apply`` writes, checked before the first request, and where its journal goes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from b24sync.errors import UsageError
from b24sync.report.files import check_writable
from b24sync.run.journal import journal_path
from b24sync.run.portal import Portal

STATE_FOLDER = ("b24sync", "journals")


def _regular_or_new(path: str | os.PathLike[str]) -> bool:
    try:
        return not os.path.exists(path) or os.path.isfile(path)
    except OSError:
        return True


def choose_journal(
    given: str | os.PathLike[str] | None,
    report: str | os.PathLike[str] | None,
    portal: Portal,
    environ: Mapping[str, str],
) -> Path | None:
    """The run's journal: ``given``, else ``REPORT.journal``, else a file of the user's state folder.

    A report that is not a regular file (``/dev/null``) has no folder of its own for a journal; an
    in-process emulator without a state file forgets its records with the process, so needs none.
    """
    if given is not None:
        return Path(given)
    if report is not None and _regular_or_new(report):
        return journal_path(report)
    if portal.emulator is not None and not portal.state_path:
        return None
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base, *STATE_FOLDER, f"run-{os.getpid()}-{os.urandom(6).hex()}.journal")


@dataclass
class Outputs:
    """What a run writes: the report, JUnit, Markdown, the emulator's state, and the journal."""

    report: str | os.PathLike[str] | None = None
    junit: str | os.PathLike[str] | None = None
    markdown: str | os.PathLike[str] | None = None
    journal: Path | None = None
    resumed: Path | None = None
    """The journal of the run being resumed, when there is one: appended to when it is ``journal``."""
    state: str | None = None
    """The emulator's state file, written when the portal closes."""

    def check(self) -> None:
        """Pre-flight: refuse before anything is sent when a file cannot be written, or when the
        journal holds a run that did not finish and is not being resumed."""
        if self.journal is not None and self.journal != self.resumed and _has_content(self.journal):
            shown = (
                self.report
                if self.report is not None and journal_path(self.report) == self.journal
                else self.journal
            )
            raise UsageError(
                f"{self.journal} holds the journal of a run that did not finish (killed?): finish it with "
                f"--resume {os.fspath(shown)}, or remove the journal once you know what that run wrote"
            )
        for path, what, append in (
            (self.report, "report", False),
            (self.junit, "JUnit report", False),
            (self.markdown, "Markdown summary", True),
        ):
            if path is not None:
                check_writable(path, what=what, append=append)
        if self.state is not None:
            check_writable(self.state, what="emulator state", make_parents=True)

    def settle(self, succeeded: bool) -> Path | None:
        """After the run: remove the journals a written report now speaks for; the journal kept, if any."""
        if self.journal is None:
            return None
        if (self.report is not None and _regular_or_new(self.report)) or succeeded:
            for path in {self.journal, self.resumed}:
                if path is not None:
                    path.unlink(missing_ok=True)
            return None
        return self.journal


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except (FileNotFoundError, NotADirectoryError):
        return False  # no journal there; whether the folder can take one is the report's check
    except OSError as error:
        raise UsageError(f"cannot read run journal {path}: {error.strerror or error}") from None
