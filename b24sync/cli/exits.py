"""The exit codes of every command, mapped here and nowhere else (docs/cli.md)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from b24sync.errors import Interrupted, PipelineError, PortalError, UsageError

if TYPE_CHECKING:  # the plan and report models load pydantic: kept out of `b24sync --version`
    from b24sync.planning.model import Plan
    from b24sync.report.model import RunStatus


class Exit(enum.IntEnum):
    """What a command's exit code means."""

    OK = 0
    FAILED = 1
    """The run finished with failed, skipped, not-run or unknown steps (plan: a conflict)."""
    USAGE = 2
    """A usage error or an invalid pipeline: nothing was sent."""
    PORTAL = 3
    """The portal could not be reached or refused the credentials."""
    HANGUP = 129
    """Stopped by SIGHUP (the terminal closed): the report is still written."""
    INTERRUPTED = 130
    TERMINATED = 143
    """Stopped by SIGTERM (a CI job cancelled, a pod stopped): the report is still written."""


# The first matching class decides.
_BY_ERROR: tuple[tuple[type[BaseException], Exit], ...] = (
    (Interrupted, Exit.INTERRUPTED),
    (KeyboardInterrupt, Exit.INTERRUPTED),
    (PipelineError, Exit.USAGE),
    (UsageError, Exit.USAGE),
    (PortalError, Exit.PORTAL),
)
_BY_RUN_STATUS: dict[str, Exit] = {
    "succeeded": Exit.OK,
    "failed": Exit.FAILED,
    "interrupted": Exit.INTERRUPTED,
}
# plan --detailed-exitcode, as Terraform's: 0 nothing would change, 2 something would, 1 any error.
DETAILED_NO_CHANGES = 0
DETAILED_CHANGES = 2
DETAILED_ERROR = 1


def for_error(error: BaseException) -> int:
    """The exit code for an error that ended a command."""
    return next((int(code) for kind, code in _BY_ERROR if isinstance(error, kind)), int(Exit.FAILED))


_SIGNAL_BASE = 128
"""A process stopped by signal N exits 128 + N, as shells report it."""


def for_run(fatal: BaseException | None, status: RunStatus, stopped_by: int | None = None) -> int:
    """The exit code of ``apply``: a fatal portal error, else the run's status; an interrupted run
    stopped by SIGTERM or SIGHUP exits 143 or 129 (128 + the signal), by Ctrl-C 130."""
    if fatal is not None:
        return for_error(fatal)
    if status == "interrupted" and stopped_by is not None:
        return _SIGNAL_BASE + stopped_by
    return int(_BY_RUN_STATUS[status])


def for_plan(plan: Plan, detailed: bool) -> int:
    """The exit code of ``plan``: 0, or with ``detailed`` whether applying would change anything."""
    if not detailed:
        return int(Exit.OK)
    if plan.conflicts:
        return DETAILED_ERROR
    return DETAILED_CHANGES if plan.has_changes else DETAILED_NO_CHANGES
