"""``--resume``: what an earlier run's report lets a new run skip, and the choice about unknowns."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from b24sync.bitrix.results import created_result
from b24sync.client.encoding import encode_command
from b24sync.client.hook import B24Hook
from b24sync.errors import UsageError
from b24sync.pipeline.instances import instance_name
from b24sync.planning.model import Command, Plan
from b24sync.report.files import read_entries, read_report
from b24sync.run.importing import OLD_JOURNAL
from b24sync.run.journal import JOURNAL_SUFFIX, journal_path, read_journal
from b24sync.run.links import LinkError, follow, substitute
from b24sync.run.recorded import Recorded
from b24sync.run.settle import assumed_results, parse_applied_ids, settle_by_lookup


class Assume(enum.Enum):
    """What to take for commands whose outcome an earlier run could not learn (a lost answer)."""

    NOTHING = "nothing"
    """Refuse to resume while any such command is left: check the portal first."""
    APPLIED = "applied"
    """They happened: do not send them again."""
    NOT_APPLIED = "not_applied"
    """They did not happen: send them again."""


@dataclass
class Previous:
    """What an earlier run left: its report, its journal, or both (a run killed after a resume)."""

    source: str
    results: Recorded = field(default_factory=Recorded)
    """The result of every command that succeeded, by key (kept small: ``run.recorded``)."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Writes whose outcome is unknown, by key, with the name the report gave them (if it did)."""
    sha256: list[str] = field(default_factory=list)
    """The sha256 of the pipeline of each run, oldest first."""
    data_sha256: list[str] = field(default_factory=list)
    """The ``data_sha256`` of each run that recorded one (older reports and journals did not)."""
    targets: list[str] = field(default_factory=list)
    """The portal of each run, its webhook code shown as ``***``."""
    journal: Path | None = None


def read_previous(path: str | os.PathLike[str]) -> Previous:
    """The report at ``path`` brought up to date by its journal (``REPORT.journal``), either alone.

    After a clean stop the report says everything and the journal is gone; after a kill only the
    journal is there; after a kill of a resumed run both are, and the journal is the newer word.
    """
    text = os.fspath(path)
    journal = journal_path(text)
    has_report = not text.endswith(JOURNAL_SUFFIX) and os.path.lexists(text)
    if not has_report and not journal.exists():
        read_report(text)  # the usual one-line error for a missing report
    previous = Previous(text, journal=journal if journal.exists() else None)
    if has_report:
        report = read_entries(text)  # a line at a time: a million entries are never one model
        previous.sha256.append(report.pipeline.sha256)
        if report.pipeline.data_sha256 is not None:
            previous.data_sha256.append(report.pipeline.data_sha256)
        previous.targets.append(report.target)
        for step in report.entries:
            if step.status == "succeeded":
                result = step.result
                if result is None and step.created_id is not None:
                    # a lean report keeps the id alone: the resumed run's entry names it again, and
                    # links into an imported record read it (linked results are kept whole)
                    result = created_result(step.method, step.created_id)
                previous.results[step.command_key] = result
            elif step.status == "unknown":
                previous.unknown[step.command_key] = step.name
    if previous.journal is not None:
        state = read_journal(previous.journal)
        previous.sha256.extend(run.pipeline_sha256 for run in state.runs)
        previous.data_sha256.extend(run.data_sha256 for run in state.runs if run.data_sha256 is not None)
        previous.targets.extend(run.target for run in state.runs)
        for key in state.outcomes:
            previous.unknown.pop(key, None)
            previous.results.pop(key, None)
        for key in state.results:
            previous.unknown.pop(key, None)
        if previous.results:
            previous.results.update(state.results)
        else:  # no report (a killed run): the journal's results are all there is
            previous.results = state.results
        for key in state.in_flight:
            previous.results.pop(key, None)
            previous.unknown.pop(key, None)
        for key in state.unknown():
            previous.unknown[key] = key
    return previous


def check_same_pipeline(previous: Previous, plan: Plan, target: str | None = None) -> None:
    """Refuse to resume from the run of another pipeline, of this one before it or its data was
    edited, or of a run against another portal than ``target``. A report or journal that did not
    record the data (older versions) is not refused for it."""
    other = next((sha for sha in previous.sha256 if sha != plan.pipeline.sha256), None)
    if other is not None:
        raise UsageError(
            f"{previous.source} is the report of another pipeline or of an earlier version of "
            f"{plan.pipeline.path} (sha256 {other[:12]}, now {plan.pipeline.sha256[:12]}): resume only "
            "the pipeline that wrote it, or run without --resume"
        )
    data = plan.pipeline.data_sha256
    other = next((sha for sha in previous.data_sha256 if data is not None and sha != data), None)
    if other is not None and data is not None:
        names = ", ".join(dict.fromkeys(s.name for s in plan.sources if s.kind != "portal")) or "its data"
        raise UsageError(
            f"{previous.source} is the report of a run of {plan.pipeline.path} with other data: {names} "
            f"changed since (data sha256 {other[:12]}, now {data[:12]}): restore the data that run read "
            "to finish it, or plan again and run without --resume"
        )
    elsewhere = next(
        (url for url in previous.targets if target is not None and not same_portal(url, target)), None
    )
    if elsewhere is not None:
        raise UsageError(
            f"{previous.source} is the report of a run against another portal ({elsewhere}, now {target}): "
            "pass the webhook of that portal to finish it, or run without --resume"
        )


def same_portal(one: str, other: str) -> bool:
    """Whether two webhook URLs (codes shown as ``***`` or not) name one portal: its host name.

    A portal is its host (``example.bitrix24.ru``); another user's webhook, another port or scheme
    of that host is the same portal. A text that names no host says nothing: taken as the same."""
    first, second = _host_of(one), _host_of(other)
    return not first or not second or first == second


def _host_of(url: str) -> str:
    return (urlsplit(url.strip()).hostname or "").lower().rstrip(".")


def resume_state(
    path: str | os.PathLike[str],
    plan: Plan,
    assume: Assume = Assume.NOTHING,
    client: B24Hook | None = None,
    applied_ids: Sequence[str] = (),
    whole: Collection[str] = (),
    commands: Callable[[], Iterable[Command]] | None = None,
) -> Recorded:
    """Recorded results to reuse by command key; refuses to guess about steps whose outcome is unknown.

    Upsert commands are left out: their records were just read again, which settles what a lost
    answer left unknown, so they need neither the recorded results nor an assumption. With a
    ``client``, unknown adds that carry an external key are looked up (``b24sync.run.settle``);
    ``applied_ids`` (``KEY=ID``) give the ids of what ``Assume.APPLIED`` takes as written.

    ``commands``: every command of the run, made again at each call, when ``plan`` is only the head
    of a streamed plan (``planning.streaming``, which has only plain calls and no selection). They are
    gone through only to settle commands of unknown outcome, and only when there are some: a
    resumed million-command run never holds its whole plan.
    """
    previous = read_previous(path)
    check_same_pipeline(previous, plan, None if client is None else client.redacted_url)
    # ``whole``: import commands, which this b24sync records record by record (run/importing.py)
    old = next((key for key in [*previous.results, *previous.unknown] if key in whole), None)
    if old is not None:
        raise UsageError(OLD_JOURNAL.format(path=os.fspath(path), key=old))
    recorded = previous.results
    unknown = list(previous.unknown)
    names = dict(previous.unknown)
    if commands is None:
        names.update((c.key, instance_name(c.step, c.instance)) for c in plan.commands())
        plain = {command.key for command in plan.commands() if command.action == "call"}
        plain |= {link.target for _, link in plan.outside_links()}
        for key in [key for key in recorded if key not in plain]:
            del recorded[key]
        unknown = [key for key in unknown if key in plain]
    every = commands or plan.commands
    if unknown and client is not None:
        settled = settle_by_lookup(unknown, every(), client)
        recorded.update(settled.applied)  # found again: applied, with the record's real id
        unknown = settled.unknown  # the rest of the found-or-not are sent again
    ids = parse_applied_ids(applied_ids, every()) if applied_ids else {}
    if ids and assume is not Assume.APPLIED:
        raise UsageError("--applied-id gives the ids of what --assume-applied takes as written: pass both")
    if unknown and assume is Assume.NOTHING:
        if commands is not None:
            _name_from(every(), unknown[:5], names)
        shown = ", ".join(names.get(k, k) for k in unknown[:5])
        raise UsageError(
            f"{len(unknown)} step(s) of {path} have an unknown outcome ({shown}"
            f"{' ...' if len(unknown) > 5 else ''}): check the portal, then "
            "re-run with --assume-applied (they happened) or --assume-not-applied (send them again)"
        )
    if assume is Assume.APPLIED and unknown:
        recorded.update(assumed_results(unknown, every(), ids, recorded))
    return recorded


def _name_from(commands: Iterable[Command], keys: Sequence[str], names: dict[str, str]) -> None:
    """Give ``keys`` that only a journal named (by key) their ``step[instance]`` names from
    ``commands``, stopping at the last one: a refusal of a streamed resume names what the user checks."""
    wanted = {key for key in keys if names.get(key, key) == key}
    for command in commands if wanted else ():
        if command.key in wanted:
            names[command.key] = instance_name(command.step, command.instance)
            wanted.discard(command.key)
            if not wanted:
                return


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
