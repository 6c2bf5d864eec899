"""``--resume``: what an earlier run's report lets a new run skip, and the choice about unknowns."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from typing import Any

from b24sync.client.encoding import encode_command
from b24sync.errors import UsageError
from b24sync.planning.model import Command, Plan
from b24sync.report.files import read_report
from b24sync.report.model import recorded_results
from b24sync.run.links import LinkError, follow, substitute


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
    plain |= {link.target for _, link in plan.outside_links()}
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


def fill_left_out(plan: Plan, recorded: Mapping[str, Any], source: str | None) -> Plan:
    """The plan with every link into a left-out step replaced by its value from ``recorded``.

    Such links have no command in the plan to take a result from: without a recorded result (a
    ``--resume`` report where the target succeeded) the run is refused before anything is sent.
    """
    outside = plan.outside_links()
    if not outside:
        return plan
    missing = sorted({link.target for _, link in outside if link.target not in recorded})
    if missing:
        command, link = next((c, lk) for c, lk in outside if lk.target in missing)
        where = f"{source} has no result of" if source is not None else "no --resume report gives"
        raise UsageError(
            f"{command.step} links to {link.target}, which {plan.selected_by or 'the selection'} leaves out, "
            f"and {where} {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}: select it too "
            f"(+{command.step}), or pass --resume REPORT of a run where it succeeded"
        )
    keys = frozenset(command.key for command in plan.commands())
    batches = []
    for batch in plan.batches:
        commands = tuple(_filled(command, recorded, keys) for command in batch.commands)
        batches.append(batch.model_copy(update={"commands": commands}))
    return plan.model_copy(update={"batches": tuple(batches)})


def _filled(command: Command, recorded: Mapping[str, Any], keys: frozenset[str]) -> Command:
    outside = [link for link in command.links if link.target not in keys]
    if not outside:
        return command
    try:
        values = {link.marker: follow(recorded[link.target], link.path) for link in outside}
    except LinkError as error:
        raise UsageError(
            f"{command.step}: a link into a left-out step cannot be filled from the report ({error}); "
            "run that step again (select it too)"
        ) from None
    params = substitute(command.params, values)
    return command.model_copy(
        update={
            "params": params,
            "query": encode_command(command.method, params),
            "links": tuple(link for link in command.links if link.target in keys),
        }
    )
