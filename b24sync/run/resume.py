"""``--resume``: what an earlier run's report lets a new run skip, and the choice about unknowns."""

from __future__ import annotations

import enum
import os
from typing import Any

from b24sync.errors import UsageError
from b24sync.planning.model import Plan
from b24sync.report.files import read_report
from b24sync.report.model import recorded_results


class Assume(enum.Enum):
    """What to take for commands whose outcome an earlier run could not learn (a lost answer)."""

    NOTHING = "nothing"
    """Refuse to resume while any such command is left: check the portal first."""
    APPLIED = "applied"
    """They happened: do not send them again."""
    NOT_APPLIED = "not_applied"
    """They did not happen: send them again."""


def resume_state(path: str | os.PathLike[str], plan: Plan, assume: Assume = Assume.NOTHING) -> dict[str, Any]:
    """Recorded results to reuse by command key; refuses to guess about steps whose outcome is unknown.

    Upsert commands are left out: their records were just read again, which settles what a lost
    answer left unknown, so they need neither the recorded results nor an assumption.
    """
    previous = read_report(path)
    plain = {command.key for command in plan.commands() if command.action == "call"}
    recorded = {key: value for key, value in recorded_results(previous).items() if key in plain}
    unknown = [s for s in previous.steps if s.status == "unknown" and s.command_key in plain]
    if unknown and assume is Assume.NOTHING:
        names = ", ".join(s.name for s in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise UsageError(
            f"{len(unknown)} step(s) of {path} have an unknown outcome ({names}): check the portal, then "
            "re-run with --assume-applied (they happened) or --assume-not-applied (send them again)"
        )
    if assume is Assume.APPLIED:
        for step in unknown:
            recorded[step.command_key] = None
    return recorded
