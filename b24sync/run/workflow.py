"""The workflow of ``plan`` and ``apply`` as library functions that return values and print nothing.

``plan``: load the pipeline, read the portal's records when it has upsert steps, plan, and write the
plan file when asked. ``apply``: the same (or a saved plan), then check secrets, run the plan through
the executor, and write the run report, JUnit and Markdown through the one output writer, in a
``finally`` so they exist after a failure or an interruption too. The command line renders what
these return; Python code gets the same values::

    import b24sync
    result = b24sync.apply("pipelines/quickstart.yaml", b24sync.Emulator())
    print(result.status, result.report.totals.succeeded)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from b24sync.bitrix.limits import OPERATING_LIMIT, OPERATING_WINDOW
from b24sync.bitrix.methods import is_read
from b24sync.client.encoding import encode_command
from b24sync.client.hook import B24Hook
from b24sync.client.redaction import Redactor
from b24sync.errors import B24SyncError, Interrupted, PortalError, StreamStopped, UsageError
from b24sync.pipeline.gcpause import operation
from b24sync.pipeline.loader import Pipeline, load_pipeline
from b24sync.planning.estimate import Estimate, PortalTime, counted, demand, estimate
from b24sync.planning.importing import IMPORT_METHOD
from b24sync.planning.model import Command, Plan, Source
from b24sync.planning.planner import plan as plan_pipeline
from b24sync.planning.select import select_steps
from b24sync.planning.streaming import StreamedPlan, materialized, stream_plan
from b24sync.report.files import write_output, write_report
from b24sync.report.model import (
    LEAN_ABOVE,
    HeldDelete,
    PipelineRef,
    ReportResults,
    RunReport,
    RunStatus,
    build_report,
    format_utc,
    redacted,
)
from b24sync.report.render import iter_junit, plural, render_markdown
from b24sync.run.contract import Contract, enforce, needs_portal
from b24sync.run.duplicates import check_duplicates
from b24sync.run.executor import (
    WINDOW_COMMANDS,
    Executor,
    Progress,
    check_parallel,
    check_secrets,
    required_secrets,
)
from b24sync.run.importing import record_keys, unpack
from b24sync.run.journal import JournalWriter, NoJournal, journal_path
from b24sync.run.lock import DEFAULT_LOCK_TIMEOUT, run_lock
from b24sync.run.outputs import Outputs, choose_journal
from b24sync.run.portal import Portal, PortalLike
from b24sync.run.preflight import check_portal, needs_preflight
from b24sync.run.redacting import run_redactor
from b24sync.run.resume import Assume, fill_left_out, resume_state, same_portal
from b24sync.upsert.state import read_state

PortalSource = PortalLike | Callable[[], PortalLike] | None
"""A portal, a function that opens one only when it is needed (upsert steps), or none."""

NO_PORTAL = "no portal: pass a webhook URL, a B24Hook or an Emulator as portal"


class NoPortal(UsageError):
    """No portal was given where one is needed (a field contract without one just uses a snapshot)."""


NEEDS_STATE = "upsert steps and portal sources read the portal: pass a webhook URL, a B24Hook or an Emulator"


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did: the plan it ran, the run report, and the error that stopped it, if any."""

    plan: Plan
    """The plan it ran; of a streamed run (``streamed``), its head: the batches before the rest."""
    report: RunReport
    fatal: B24SyncError | None = None
    journal: Path | None = None
    """The run's journal when it was kept (no report file holds what it says): pass it to ``--resume``."""
    streamed: bool = False
    """Whether the plan was made while the run went, a window at a time (``b24sync.planning.streaming``):
    a ``for_each`` data file of more rows than two windows, read twice instead of kept."""
    warnings: tuple[str, ...] = ()
    """What the run could not check, a line each (the CLI prints them as ``b24sync: warning: ...``)."""

    @property
    def status(self) -> RunStatus:
        """``succeeded``, ``failed`` or ``interrupted``."""
        return self.report.status


@operation()
def plan(
    source: str | os.PathLike[str],
    portal: PortalSource = None,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_delete: bool = False,
    out: str | os.PathLike[str] | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    resume: str | os.PathLike[str] | None = None,
    contract: Contract = True,
    allow_env: Collection[str] = (),
) -> Plan:
    """Load and plan a pipeline file; read the portal first when it has upsert steps.

    ``environ`` is what ``env()`` and ``secret()`` see (nothing unless given; ``allow_env`` names
    variables ``env()`` may read although their names look like credentials). With ``out`` the plan is
    also written as JSON, the file ``apply PLAN.json`` runs, with every secret shown as ``***``. A plan
    only reads the portal: an emulator's state file is never written. ``select`` and ``exclude`` plan
    some steps only (``b24sync.planning.select``); a link into a step left out needs its result in the
    ``resume`` report.
    ``contract`` checks the fields the pipeline writes (``b24sync.run.contract``): against the portal
    when one is given, else against the snapshot beside the pipeline; ``False`` skips the check.
    """
    opened: list[Portal] = []
    try:
        result = _whole(
            _plan_file(
                str(source),
                variables,
                environ,
                _opener(portal, NEEDS_STATE, opened),
                allow_delete,
                select,
                exclude,
                contract,
                allow_env,
            )
        )
    finally:
        for each in opened:
            each.close(save=False)
    recorded = resume_state(resume, result, Assume.APPLIED) if resume is not None else {}
    fill_left_out(result, recorded, None if resume is None else str(resume))
    if out is not None:
        redact = run_redactor(environ or {}, plan=result, base=_client_redactor(opened))
        write_output(out, redact(plan_json(result)), what="plan")
    return result


@operation()
def plan_estimate(
    source: str | os.PathLike[str],
    portal: PortalSource = None,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_delete: bool = False,
    contract: Contract = True,
    allow_env: Collection[str] = (),
) -> tuple[Plan, Estimate]:
    """``plan --estimate``: what ``apply`` of a pipeline file would send, planned as ``apply`` plans it.

    A big data file is counted a window at a time (``planning.streaming``), never planned whole; the
    plan returned is then its head (every other step and the first window of instances).
    """
    opened: list[Portal] = []
    try:
        planned = _plan_file(
            str(source),
            variables,
            environ,
            _opener(portal, NEEDS_STATE, opened),
            allow_delete,
            (),
            (),
            contract,
            allow_env,
            WINDOW_COMMANDS,
        )
    finally:
        for each in opened:
            each.close(save=False)
    if isinstance(planned, StreamedPlan):
        units = demand(planned.head)
        rest = planned.commands - sum(len(batch.commands) for batch in planned.head.batches)
        if planned.rest_method is not None and rest > 0:
            method = planned.rest_method.lower()
            units[method] = units.get(method, 0) + rest
        return planned.head, counted(planned.commands, planned.batches, units, cloud_time())
    return planned, estimate(planned, cloud_time())


def cloud_time() -> PortalTime:
    """What ``plan --estimate`` holds a plan to besides the request limits: a cloud portal's server
    time, as the emulator's cloud profile models it (imported here: the emulator is big)."""
    from b24sync.emulator.costs import CLOUD, method_class

    return PortalTime(
        "cloud",
        lambda method: CLOUD.seconds.get(method_class(method), 0.0),
        CLOUD.request,
        CLOUD.workers or 1,
        OPERATING_LIMIT,
        OPERATING_WINDOW,
    )


def _client_redactor(portals: list[Portal]) -> Redactor:
    redact = Redactor()
    for each in portals:
        redact = redact.merged(each.client.redact)
    return redact


def plan_json(the_plan: Plan) -> str:
    """The plan as the JSON text of a plan file (a plan of the whole pipeline has no selection fields)."""
    unselected = set() if the_plan.left_out else {"left_out", "selected_by"}
    unused = unselected | (set() if the_plan.imports else {"imports"})  # issue 17: only import plans
    return the_plan.model_dump_json(indent=2, exclude=unused or None) + "\n"


@operation()
def apply(
    source: str | os.PathLike[str] | Plan,
    portal: PortalLike | None = None,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    report: str | os.PathLike[str] | None = None,
    junit: str | os.PathLike[str] | None = None,
    markdown: str | os.PathLike[str] | None = None,
    halt_on_error: bool | None = None,
    resume: str | os.PathLike[str] | None = None,
    assume: Assume = Assume.NOTHING,
    allow_delete: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    contract: Contract = True,
    allow_env: Collection[str] = (),
    report_results: ReportResults | None = None,
    journal: str | os.PathLike[str] | None = None,
    applied_ids: Sequence[str] = (),
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    window: int = WINDOW_COMMANDS,
    parallel: int = 1,
) -> Applied:
    """Run a pipeline file, a saved plan file (``.json``) or a ``Plan`` against ``portal``.

    ``report``, ``junit`` and ``markdown`` (appended to, like a CI job summary) are written when
    given; ``report_results`` says how much of each entry the report file keeps (``full``, ``ids``,
    ``none``; by default ``ids`` above 10,000 commands). ``resume`` names the report of an earlier run
    (or its journal, when the run was killed before writing it): what succeeded there is not sent
    again. ``select`` and ``exclude`` run some steps only, as in ``plan``. Unknown writes of that run
    are looked up in the portal where they carry an external key (``b24sync.run.settle``); ``assume``
    settles the rest, ``applied_ids`` (``KEY=ID``) giving the ids of what dependents link to. Command
    failures are in the report; only a run that cannot start raises.

    Every request is recorded in the run's journal before it is sent (``b24sync.run.journal``):
    ``journal`` names it; by default it is ``REPORT.journal``, or with no report (or a report that is
    not a regular file) a file in ``$XDG_STATE_HOME/b24sync/journals``; an in-process emulator without
    a state file keeps none. The journal is removed once the report is written.

    Runs of one pipeline against one portal take turns on this machine (``b24sync.run.lock``): a
    second waits up to ``lock_timeout`` seconds for the first, then stops before reading the portal.

    The run goes ``window`` commands at a time (``b24sync.run.executor``): of a finished window only
    the report entries and the linked values later windows read stay in memory; the requests are
    those of the one plan. A lean ``report_results`` (``ids``, also the default above 10,000 commands)
    also keeps no results in the returned report's entries.

    ``parallel`` (1 to ``MAX_PARALLEL``) batches with no link or dependency between them are in flight
    at once; the requests, the journal, the report's entries and a resume are those of a serial run.
    """
    if portal is None:
        raise UsageError(NO_PORTAL)
    check_parallel(parallel)
    connection = Portal.of(portal)
    environ = environ or {}
    try:
        with _locked(connection, source, lock_timeout):
            return _apply(
                source,
                connection,
                variables,
                environ,
                report,
                junit,
                markdown,
                halt_on_error,
                resume,
                assume,
                allow_delete,
                on_progress,
                should_stop,
                select,
                exclude,
                contract,
                allow_env,
                journal,
                applied_ids,
                report_results,
                window,
                parallel,
            )
    finally:
        if connection is not portal:
            connection.close()


def _locked(connection: Portal, source: str | os.PathLike[str] | Plan, timeout: float) -> Any:
    if connection.emulator is not None and not connection.state_path:
        return contextlib.nullcontext()  # an in-process portal of its own: no other run can see it
    pipeline = source.pipeline.path if isinstance(source, Plan) else os.fspath(source)
    return run_lock(connection.client.redacted_url, pipeline, timeout)


def _apply(
    source: str | os.PathLike[str] | Plan,
    connection: Portal,
    variables: Mapping[str, str] | None,
    environ: Mapping[str, str],
    report: str | os.PathLike[str] | None,
    junit: str | os.PathLike[str] | None,
    markdown: str | os.PathLike[str] | None,
    halt_on_error: bool | None,
    resume: str | os.PathLike[str] | None,
    assume: Assume,
    allow_delete: bool,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    select: Sequence[str],
    exclude: Sequence[str],
    contract: Contract,
    allow_env: Collection[str],
    journal: str | os.PathLike[str] | None,
    applied_ids: Sequence[str],
    report_results: ReportResults | None,
    window: int,
    parallel: int,
) -> Applied:
    reads_before = connection.client.stats.requests
    if (select or exclude) and (isinstance(source, Plan) or str(source).endswith(".json")):
        raise UsageError("--select and --exclude choose steps when planning: pass them to `b24sync plan`")
    streamed: StreamedPlan | None = None
    if isinstance(source, Plan):
        the_plan = source
    else:
        started = datetime.now(timezone.utc)
        # a big data file is planned a window at a time (resumed too); a selection plans it whole
        stream = window if not (select or exclude) else None
        try:
            loaded = load_plan(
                str(source),
                variables,
                environ,
                lambda: connection,
                allow_delete,
                select,
                exclude,
                contract,
                allow_env,
                stream,
            )
            if isinstance(loaded, StreamedPlan):
                streamed, the_plan = loaded, loaded.head
            else:
                the_plan = loaded
        except PortalError as error:  # reading the portal (upsert state, fields) failed: nothing sent
            if report is not None:
                _report_failure(str(source), connection, environ, report, started, error)
            raise
    read_requests = connection.client.stats.requests - reads_before
    recorded: Mapping[str, Any] = {}
    if resume is not None and streamed is not None:
        # issue 16: a streamed run resumes streamed; its commands are made again only to settle
        # those an earlier run left unknown (``resume_state``)
        head = the_plan

        def every_command() -> Iterator[Command]:
            again = load_plan(
                str(source),
                variables,
                environ,
                lambda: connection,
                allow_delete,
                (),
                (),
                False,
                allow_env,
                stream,
            )
            made = _record_view(again) if isinstance(again, StreamedPlan) else iter(again.commands())
            info = again.head.pipeline if isinstance(again, StreamedPlan) else again.pipeline
            if info.data_sha256 != head.pipeline.data_sha256:
                raise UsageError(f"the data of {source} changed while the run was resumed: resume it again")
            yield from made

        whole = streamed.import_keys()
        recorded = resume_state(
            resume, head, assume, connection.client, applied_ids, whole=whole, commands=every_command
        )
        if whole:
            # issue 17: each record an earlier run settled is taken out of its import command, in
            # the head now and in each later batch as it is made (run/importing.py)
            streamed.unpacking(
                lambda plan: unpack(
                    plan, [r.key for rs in plan.imports.values() for r in rs if r.key in recorded]
                )
            )
            the_plan = streamed.head
    elif resume is not None:
        # issue 17: an import command's records were recorded one by one; those that are settled
        # are taken out of it, and only the others are imported again (run/importing.py)
        records = record_keys(the_plan)
        view = unpack(the_plan, records)
        recorded = resume_state(
            resume, view, assume, connection.client, applied_ids, whole=frozenset(the_plan.imports)
        )
        the_plan = unpack(the_plan, [key for key in recorded if key in records])
    the_plan = fill_left_out(the_plan, recorded, None if resume is None else str(resume))
    secrets = {name: environ[name] for name in required_secrets(the_plan) if name in environ}
    check_secrets(the_plan, secrets)
    origin = the_plan.pipeline.path if isinstance(source, Plan) else str(source)
    outputs = Outputs(
        report=report,
        junit=junit,
        markdown=markdown,
        journal=choose_journal(journal, report, connection, environ),
        resumed=None if resume is None else journal_path(resume),
        state=connection.state_path,
    )
    outputs.check()
    return _run(
        the_plan,
        connection,
        origin,
        secrets,
        recorded,
        halt_on_error,
        outputs,
        on_progress,
        should_stop,
        run_redactor(environ, plan=the_plan, base=connection.client.redact),
        read_requests,
        report_results,
        window,
        parallel,
        streamed,
    )


def _report_failure(
    source: str,
    connection: Portal,
    environ: Mapping[str, str],
    report: str | os.PathLike[str],
    started: datetime,
    error: PortalError,
) -> None:
    """Write the report of a run that failed before it had steps: status failed, the cause in ``error``."""
    try:
        with open(source, "rb") as stream:
            sha256 = hashlib.sha256(stream.read()).hexdigest()
    except OSError:
        return
    redact = run_redactor(environ, base=connection.client.redact)
    now = datetime.now(timezone.utc)
    failed = build_report(
        run_id=uuid.uuid4().hex,
        pipeline=PipelineRef(path=source, sha256=sha256, git_commit=git_commit(source)),
        target=connection.client.redacted_url,
        started_at=format_utc(started),
        finished_at=format_utc(max(now, started)),
        duration_s=round((now - started).total_seconds(), 3),
        steps=(),
        read_requests=connection.client.stats.requests,
        error=redact(str(error)),
    )
    write_report(redacted(failed, redact), report, "full")


def load_plan(
    source: str,
    variables: Mapping[str, str] | None,
    environ: Mapping[str, str] | None,
    portal: Callable[[], PortalLike],
    allow_delete: bool,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    contract: Contract = True,
    allow_env: Collection[str] = (),
    stream: int | None = None,
    stream_imports: bool = True,
) -> Plan | StreamedPlan:
    """A saved plan file (``.json``, refused when edited by hand), or the plan of a pipeline file.

    With ``stream`` (a window of commands), a big ``for_each`` data file may give a ``StreamedPlan``;
    of a ``mode: import`` step only with ``stream_imports``.
    """
    if not source.endswith(".json"):
        return _plan_file(
            source,
            variables,
            environ,
            portal,
            allow_delete,
            select,
            exclude,
            contract,
            allow_env,
            stream,
            stream_imports,
        )
    try:
        with open(source, encoding="utf-8") as text:
            saved = Plan.model_validate_json(text.read())
    except OSError as error:
        raise UsageError(f"cannot read plan {source}: {error.strerror or error}") from None
    except ValueError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise UsageError(
            f"{source} is not a b24sync plan ({first[0].strip()}): "
            "make one with `b24sync plan FILE --format json --out PLAN.json`"
        ) from None
    for command in saved.commands():
        if command.query != encode_command(command.method, command.params):  # type: ignore[arg-type]
            raise UsageError(
                f"{source}: command {command.key} was edited (its query no longer "
                "matches its params): plan the pipeline again instead of editing"
            )
    check_target(saved, source, portal)
    if _decisions(saved):
        fresh = check_fresh(saved, source, variables, environ, portal, allow_delete, contract, allow_env)
        creates = {command.key for command in saved.commands() if command.action == "create"}
        matches = {key: value for key, value in fresh.created_matches.items() if key in creates}
        return saved.model_copy(update={"created_matches": matches})
    return saved


def check_target(saved: Plan, source: str, portal: Callable[[], PortalLike]) -> None:
    """Refuse a saved plan that read another portal than the one it is applied to.

    Its upsert decisions and portal sources came from that portal. A plan that read neither (only
    the field contract, or nothing) is applied anywhere: its target is information only.
    """
    planned = saved.pipeline.target
    reads = bool(_decisions(saved)) or any(each.kind == "portal" for each in saved.sources)
    if planned is None or not reads:
        return
    current = Portal.of(portal()).client.redacted_url
    if not same_portal(planned, current):
        raise UsageError(
            f"{source} was planned against {planned}, not {current}: its decisions were read from that "
            "portal; plan again against this one (`b24sync plan PIPELINE --out PLAN.json`), or apply it "
            "with the webhook of the portal it was planned against"
        )


def _decisions(the_plan: Plan) -> dict[str, tuple[str, int | None]]:
    """What each upsert instance of a plan does: (action, record id) by command key."""
    found: dict[str, tuple[str, int | None]] = {
        c.key: (c.action, c.record_id) for c in the_plan.commands() if c.action != "call"
    }
    found.update({u.key: (u.action, u.record_id) for u in the_plan.unsent})
    return found


def check_fresh(
    saved: Plan,
    source: str,
    variables: Mapping[str, str] | None,
    environ: Mapping[str, str] | None,
    portal: Callable[[], PortalLike],
    allow_delete: bool,
    contract: Contract = True,
    allow_env: Collection[str] = (),
) -> Plan:
    """Refuse a saved plan of upsert steps that the portal (or the pipeline) has moved on from.

    The pipeline is planned again against the portal as it is now; any upsert decision that differs
    (a record created or deleted since, a field changed, the pipeline or its data edited) makes the
    saved plan stale, as Terraform refuses a stale saved plan: applying it could duplicate records.
    Returns the fresh plan.
    """
    again = "plan again: `b24sync plan PIPELINE --out PLAN.json`, then apply the new plan"
    pipeline = saved.pipeline.path
    try:
        fresh = _whole(
            _plan_file(pipeline, variables, environ, portal, allow_delete, (), (), contract, allow_env)
        )
    except UsageError as error:
        raise UsageError(f"{source} cannot be checked against {pipeline} ({error}): {again}") from None
    if fresh.pipeline.sha256 != saved.pipeline.sha256:
        raise StalePlan(f"{source} is stale: {pipeline} was edited since it was planned: {again}")
    if saved.pipeline.data_sha256 is not None and fresh.pipeline.data_sha256 != saved.pipeline.data_sha256:
        before = {(each.where, each.name): each.sha256 for each in saved.sources}
        edited = [each.name for each in fresh.sources if before.get((each.where, each.name)) != each.sha256]
        shown = ", ".join(dict.fromkeys(edited)) or "a source"
        raise StalePlan(
            f"{source} is stale: the data of {pipeline} changed since it was planned ({shown}): {again}"
        )
    now = _decisions(fresh)
    changed = []
    for key, (action, record) in _decisions(saved).items():
        current = now.get(key)
        if current != (action, record):
            after = "gone" if current is None else _shown(*current)
            changed.append(f"{key}: {_shown(action, record)} -> {after}")
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        shown = "; ".join(changed[:5])
        raise StalePlan(
            f"{source} is stale: the portal changed since it was planned ({shown}{more}): {again}"
        )
    return fresh


def _shown(action: str, record: int | None) -> str:
    return action if record is None else f"{action} record {record}"


class StalePlan(B24SyncError):
    """A saved plan whose upsert decisions the portal has moved on from (exit 1)."""


def _plan_file(
    source: str,
    variables: Mapping[str, str] | None,
    environ: Mapping[str, str] | None,
    portal: Callable[[], PortalLike],
    allow_delete: bool,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    contract: Contract = True,
    allow_env: Collection[str] = (),
    stream: int | None = None,
    stream_imports: bool = True,
) -> Plan | StreamedPlan:
    """The plan of a pipeline file; with ``stream`` (a window), a ``StreamedPlan`` where one can be made."""
    clients: list[B24Hook] = []

    def client() -> B24Hook:
        # One portal for the portal sources, the field contract and the upsert state, opened on first use.
        if not clients:
            clients.append(Portal.of(portal()).client)
        return clients[0]

    above = None if stream is None else STREAM_WINDOWS * stream
    pipeline = load_pipeline(
        source, variables=variables, environ=environ, portal=client, allow_env=allow_env, stream_above=above
    )
    selection = select_steps(pipeline, select, exclude) if select or exclude else None
    upserts = any(step.spec.upsert is not None for step in pipeline.steps)
    known: B24Hook | None = clients[0] if clients else None
    if known is None and (upserts or needs_portal(pipeline, contract)):
        try:
            known = client()
        except NoPortal:
            if upserts:
                raise
    # the fields are read and checked before any record is: a refused pipeline costs those reads only
    enforce(pipeline, known, contract)
    if known is None or not upserts:
        streamed = stream_plan(pipeline, stream, stream_imports) if stream is not None else None
        if streamed is not None:
            streamed.head = _identified(streamed.head, clients, {})
            return streamed
        pipeline = materialized(pipeline)
        planned = plan_pipeline(pipeline, selection=selection)
        matches: dict[str, dict[str, Any]] = {}
    else:
        pipeline = materialized(pipeline)
        state = read_state(pipeline, known)
        planned = plan_pipeline(pipeline, state, allow_delete=allow_delete, selection=selection)
        matches = created_matches(pipeline, planned)
    return _identified(planned, clients, matches)


def _identified(planned: Plan, clients: Sequence[B24Hook], matches: dict[str, dict[str, Any]]) -> Plan:
    """The plan with its data and target recorded (``PipelineInfo``) and the match values of its creates."""
    info = planned.pipeline.model_copy(
        update={
            "data_sha256": data_sha256(planned.sources),
            "target": clients[0].redacted_url if clients else None,
        }
    )
    return planned.model_copy(update={"pipeline": info, "created_matches": matches})


def data_sha256(sources: Sequence[Source]) -> str:
    """``PipelineInfo.data_sha256``: the sha256 of the file and SQL sources' sha256, one a line."""
    lines = "".join(f"{each.sha256}\n" for each in sources if each.kind != "portal")
    return hashlib.sha256(lines.encode("ascii")).hexdigest()


def created_matches(pipeline: Pipeline, the_plan: Plan) -> dict[str, dict[str, Any]]:
    """The match values of every create of an upsert step, by command key (``Plan.created_matches``)."""
    steps = {step.spec.id: step for step in pipeline.steps if step.spec.upsert is not None}
    by_name: dict[str, dict[str | None, Any]] = {}
    found: dict[str, dict[str, Any]] = {}
    for command in the_plan.commands():
        step = steps.get(command.step)
        if command.action != "create" or step is None:
            continue
        if command.step not in by_name:
            by_name[command.step] = {each.name: each for each in step.expansion.instances}
        instance = by_name[command.step].get(command.instance)
        params: Any = None if instance is None else instance.params
        if isinstance(params, Mapping) and isinstance(params.get("match"), Mapping):
            found[command.key] = dict(params["match"])
    return found


def _whole(planned: Plan | StreamedPlan) -> Plan:
    assert isinstance(planned, Plan)  # only a call with ``stream`` streams
    return planned


STREAM_WINDOWS = 2
"""An apply streams a ``for_each`` data file of more rows than this many windows."""


def _opener(portal: PortalSource, missing: str, opened: list[Portal]) -> Callable[[], Portal]:
    """Open ``portal`` on first use (only upsert steps need one), remembering what to close."""

    def open_portal() -> Portal:
        given = portal() if callable(portal) else portal
        if given is None:
            raise NoPortal(missing)
        connection = Portal.of(given)
        if callable(portal) or connection is not given:
            opened.append(connection)  # opened here, so closed here
        return connection

    return open_portal


def _run(
    the_plan: Plan,
    portal: Portal,
    origin: str,
    secrets: Mapping[str, str],
    recorded: Mapping[str, Any],
    halt_on_error: bool | None,
    outputs: Outputs,
    on_progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    redact: Redactor,
    read_requests: int = 0,
    report_results: ReportResults | None = None,
    window: int = WINDOW_COMMANDS,
    parallel: int = 1,
    streamed: StreamedPlan | None = None,
) -> Applied:
    started_wall = datetime.now(timezone.utc)
    started = time.monotonic()
    client = portal.client
    run_id = uuid.uuid4().hex
    if should_stop is not None:
        client.stop_waits_when(should_stop)
    halt = the_plan.halt_on_error if halt_on_error is None else halt_on_error
    results = entry_results(the_plan, report_results, None if streamed is None else streamed.entries)
    refused: PortalError | None = None
    stopped = False
    warnings: list[str] = []
    retries, waited = client.stats.retries, client.stats.waited
    if needs_preflight(the_plan, recorded) or _rest_writes(streamed, recorded):
        try:
            check_portal(the_plan, client)  # before the first write: the host, the code, the scopes
        except PortalError as error:
            refused = error
        except (Interrupted, KeyboardInterrupt):
            stopped = True  # stopped before the first write: every command not run
    writer: JournalWriter | None = None
    if outputs.journal is not None:
        writer = JournalWriter(outputs.journal, redact)
        writer.start(
            run_id,
            {
                "path": the_plan.pipeline.path,
                "sha256": the_plan.pipeline.sha256,
                "data_sha256": the_plan.pipeline.data_sha256,
            },
            client.redacted_url,
            format_utc(started_wall),
        )
        writer.record_carried(recorded)
    try:
        executor = Executor(
            the_plan,
            client,
            halt_on_error=halt,
            secrets=secrets,
            recorded=recorded,
            should_stop=should_stop or (lambda: False),
            on_progress=on_progress,
            journal=writer or NoJournal(),
            window=window,
            results=results,
            parallel=parallel,
            streamed=streamed,
        )
        if refused is not None:  # every command not run, with the refusal as the reason
            executor.fatal, executor.stopped = refused, True
        if stopped:
            executor.interrupted = executor.stopped = True
        execution = executor.run()
        if the_plan.created_matches and execution.fatal is None and not execution.interrupted:
            # a concurrent writer may have created what this run did: read the match values again
            before = client.stats.requests
            try:
                execution.steps = check_duplicates(the_plan, execution.steps, client)
            except PortalError as error:  # the writes stand as reported; the user is told it was not checked
                warnings.append(
                    f"could not read the portal again to look for records a concurrent writer duplicated "
                    f"({error}): check the upsert steps' records in the portal, or run again (a rerun "
                    "finds them as AMBIGUOUS_MATCH)"
                )
            read_requests += client.stats.requests - before
        # the pre-flight call's retries and waits are the run's too
        execution.retries = client.stats.retries - retries
        execution.waited_s = client.stats.waited - waited
    finally:
        if writer is not None:
            writer.close()
        if should_stop is not None:
            client.stop_waits_when(None)  # a later run on this client is not stopped by this run's signal
    report = build_report(
        run_id=run_id,
        pipeline=PipelineRef(
            path=the_plan.pipeline.path,
            sha256=the_plan.pipeline.sha256,
            git_commit=git_commit(origin),
            data_sha256=the_plan.pipeline.data_sha256,
        ),
        target=client.redacted_url,
        started_at=format_utc(started_wall),
        finished_at=format_utc(datetime.now(timezone.utc)),
        duration_s=round(time.monotonic() - started, 3),
        steps=execution.steps,
        batches=execution.batches,
        retries=execution.retries,
        limit_wait_s=round(execution.waited_s, 3),
        interrupted=execution.interrupted,
        read_requests=read_requests,
        held_deletes=[
            HeldDelete(step=each.step, command_key=each.key, record_id=each.record_id)
            for each in the_plan.unsent
            if each.action == "delete"
        ],
        error=_unplanned(execution.fatal, streamed, len(execution.steps)),
    )
    try:
        report = _written(report, outputs, results, redact)
    except UsageError as error:
        raise UsageError(_unwritten(str(error), report, outputs)) from None
    kept = outputs.settle(report.status == "succeeded")
    return Applied(
        the_plan, report, execution.fatal, kept, streamed is not None, tuple(redact(w) for w in warnings)
    )


def _written(report: RunReport, outputs: Outputs, results: ReportResults, redact: Redactor) -> RunReport:
    """Write the run's report, JUnit report and Markdown summary; the report without its secrets."""
    report = _reported(report, outputs.report, results, redact)
    # a clean report may still lay two of its values side by side in these: searched as well
    if outputs.junit is not None and not write_output(
        outputs.junit, iter_junit(report), what="JUnit report", refuse=redact
    ):
        report = redacted(report, redact)
        write_output(outputs.junit, iter_junit(report), what="JUnit report")
    if outputs.markdown is not None:
        summary = redact(render_markdown(report) + "\n")
        write_output(outputs.markdown, summary, what="Markdown summary", append=True)
    return report


def _unwritten(message: str, report: RunReport, outputs: Outputs) -> str:
    """The error of a file a run could not write once it had run: what it did, and how to finish it.

    The requests went out; told only to choose another path, a user would apply again and send
    them all twice.
    """
    totals = report.totals
    ended = (
        f"{message}. The run itself ended ({report.status}: {totals.succeeded} of "
        f"{plural(totals.steps, 'step')} succeeded)"
    )
    journal = outputs.journal
    if journal is not None and journal.is_file():
        return (
            f"{ended}, and its journal {journal} keeps what it sent: apply again with --resume "
            f"{journal} to write the files without sending anything twice"
        )
    return f"{ended} before the file could be written"


def _reported(
    report: RunReport, path: str | os.PathLike[str] | None, results: ReportResults, redact: Redactor
) -> RunReport:
    """Write the report file, its text searched for secrets on its way there; the report without them.

    Portal texts and results may echo the webhook code or a secret. A full report's text holds every
    value of the report, so a text that reached the file clean proves the report clean, and it is not
    searched again; a text holding a secret is never written: the redacted report is, instead.
    """
    if path is None:
        return redacted(report, redact)
    if write_report(report, path, results, refuse=redact):
        # a lean text leaves fields out (``report.model.lean_entry``): those are searched still
        return report if results == "full" else redacted(report, redact)
    clean = redacted(report, redact)
    write_report(clean, path, results)
    return clean


def _record_view(streamed: StreamedPlan) -> Iterator[Command]:
    """Every command of a streamed plan as an earlier run's report and journal name them: an import
    command as one ``crm.item.add`` per record (``unpack`` with every record settled)."""
    if not streamed.imports and streamed.rest_method != IMPORT_METHOD:
        yield from streamed.every_command()
        return
    for batch in (*streamed.head.batches, *streamed.rest()):
        records = {c.key: streamed.imports.pop(c.key) for c in batch.commands if c.key in streamed.imports}
        one = streamed.head.model_copy(update={"batches": (batch,), "imports": records})
        yield from unpack(one, record_keys(one)).commands()


def _rest_writes(streamed: StreamedPlan | None, recorded: Mapping[str, Any]) -> bool:
    """Whether a resumed streamed run has writes to send after its head (all of one step: its last)."""
    if streamed is None or not recorded or len(recorded) >= streamed.entries or not streamed.head.batches:
        return False
    return not is_read(streamed.head.batches[-1].commands[-1].method)


def _unplanned(fatal: B24SyncError | None, streamed: StreamedPlan | None, entries: int) -> str | None:
    """Why a streamed run has entries for only some of its commands: the rest could not be planned."""
    if not isinstance(fatal, StreamStopped) or streamed is None:
        return None
    left = streamed.entries - entries
    what = "records" if streamed.rest_method == IMPORT_METHOD else "commands"
    return f"{fatal} ({left} of {streamed.entries} {what} were never planned, so none of them was sent)"


def entry_results(the_plan: Plan, asked: ReportResults | None, entries: int | None = None) -> ReportResults:
    """How much of each result the run keeps in memory: what the report file will hold
    (``report.model.results_kept``: ``ids`` above ``LEAN_ABOVE`` entries unless asked otherwise).
    ``entries`` counts the report's entries when ``the_plan`` is only a streamed plan's head."""
    if asked is not None:
        return asked
    if entries is None:
        commands = sum(len(batch.commands) for batch in the_plan.batches)
        # an import command has one entry per record, an upsert that sends nothing one
        imported = sum(len(records) - 1 for records in the_plan.imports.values())
        entries = commands + imported + len(the_plan.unsent)
    return "ids" if entries > LEAN_ABOVE else "full"


def git_commit(path: str) -> str | None:
    """The commit checked out where ``path`` lives, when it is in a git repository."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        found = subprocess.run(
            ["git", "-C", folder, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = found.stdout.strip()
    return commit if found.returncode == 0 and len(commit) == 40 else None
