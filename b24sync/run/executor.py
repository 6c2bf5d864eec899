"""Runs a plan through a client and records the outcome of every command.

Rules, in the order they matter:

- A batch goes out with ``halt=1`` when one of its commands depends on another in the same request
  (or when the run halts on errors), so a dependent never runs after its dependency failed
  (protocol §5.4).
- Links to commands of earlier requests are substituted from stored results strictly
  (``b24sync.run.links``); server-side links are checked against the answer, and a link the portal could
  not resolve fails its command instead of passing silently (protocol §4.3 rule 2).
- Commands the portal did not reach after a halt are sent again in the next request; dependents of a
  failed command are skipped with the reason; with ``halt_on_error`` the run stops and the rest is
  ``not_run``. Limit errors inside ``result_error`` are waited out and resent for those commands only.
- A request that held writes and lost its answer stops the run: those writes are ``unknown`` and
  nothing is sent twice. Any other portal failure stops the run and is returned as ``fatal``.
- With ``parallel`` > 1, up to that many batches are in flight at once: a batch goes out once every
  earlier batch of its window that it links to or depends on has settled (``_run_parallel``). With
  ``PARALLEL_AUTO`` the number is measured (``_slots``): as many requests as the rate limit can feed
  while one is on the server, from the server time the answers report. All the
  bookkeeping runs under one lock, released only while a request (or a limit wait) is on the wire, so
  each request is still journaled before it is sent. A stop (a failure with ``halt_on_error``, a lost
  answer, Ctrl-C) sends nothing new; the requests in flight get their answers and settle.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import JsonValue

from b24sync.bitrix.codes import LIMIT_CODES
from b24sync.bitrix.methods import is_safe_to_repeat
from b24sync.bitrix.results import created_id
from b24sync.client.encoding import encode_command
from b24sync.client.hook import B24Hook
from b24sync.client.redaction import Redactor
from b24sync.client.results import BatchReply
from b24sync.errors import (
    B24SyncError,
    Interrupted,
    OutcomeUnknownError,
    PortalError,
    ProtocolError,
    UsageError,
)
from b24sync.pipeline.models import built
from b24sync.planning.model import Batch, Command, Imported, Plan
from b24sync.planning.streaming import IMPORT_WINDOW_BATCHES, StreamedPlan
from b24sync.planning.windows import Window, cut_windows
from b24sync.report.model import (
    BatchResult,
    Entries,
    ReportResults,
    StepResult,
    StepStatus,
    compact,
    summarize_result,
)
from b24sync.run.importing import journaled, per_instance
from b24sync.run.journal import Journal, NoJournal, Outcome, pruned
from b24sync.run.links import LinkError, follow, substitute
from b24sync.run.recorded import Recorded
from b24sync.upsert.unsent import unsent_results

UNKNOWN_CODE = "OUTCOME_UNKNOWN"
UNKNOWN_ADVICE = (
    "the request was sent but its answer was lost, so this write may or may not have been "
    "applied: check the portal, then re-run with --resume and --assume-applied or "
    "--assume-not-applied"
)
MAX_UNANSWERED_RESENDS = 2
"""A command an answer leaves out with no error is sent again at most this many times."""
_BAD = frozenset({"failed", "skipped", "not_run", "unknown"})

_ONE = (None,)
"""What ``_windows`` counts a command that is no import command as: one entry."""
WINDOW_COMMANDS = 5_000
"""How many commands a window of the run holds by default (``b24sync.planning.windows``): the
results of one window are in memory at a time, plus the linked values later windows read."""


MAX_PARALLEL = 10
"""The most requests ``parallel`` puts in flight: the HTTP session keeps 10 connections to a host
(``requests``' pool), and a portal serves a few requests of one webhook at a time (issue 17)."""


PARALLEL_AUTO = 0
"""``parallel`` for a measured number of requests in flight (``apply --parallel``'s default): it starts
at 1 and becomes ``ceil(server seconds of a request / request_interval)`` (``Executor._slots``), at
most ``MAX_PARALLEL``: the requests the rate limit admits while one of them is on the server."""
SLOW_ANSWER = 0.5
"""The share of ``request_interval`` a request stays out before its run's first answer that shows the
portal spends real time on it (``Executor._slots``): 0.25 s at the standard limit, seven times the
slowest answer of the instant emulator to a batch of 50 adds measured here (9-36 ms), while a cloud
portal's batch of 50 writes takes seconds."""
_WAKE = 0.005
"""Seconds past the moment the measured number grows that the run looks again (a timer is never early)."""


def check_parallel(parallel: int) -> None:
    """Refuse a ``parallel`` outside 1..``MAX_PARALLEL`` (or ``PARALLEL_AUTO``) with one line of advice."""
    if parallel != PARALLEL_AUTO:
        given_parallel(parallel)


def given_parallel(parallel: int | None) -> int:
    """``--parallel``: ``PARALLEL_AUTO`` when not given, else a number from 1 to ``MAX_PARALLEL``."""
    if parallel is None:
        return PARALLEL_AUTO
    if not 1 <= parallel <= MAX_PARALLEL:
        raise UsageError(
            f"--parallel {parallel}: give a number of requests in flight from 1 to {MAX_PARALLEL}, "
            "or leave it out to have it measured"
        )
    return parallel


def required_secrets(plan: Plan) -> list[str]:
    """The names of every ``secret()`` the plan's commands send, sorted."""
    return sorted({name for command in plan.commands() for name in command.secrets})


def check_secrets(plan: Plan, secrets: Mapping[str, str]) -> None:
    """Refuse a run before anything is sent when a secret the plan needs has no value."""
    missing = [name for name in required_secrets(plan) if name not in secrets]
    if missing:
        raise UsageError(f"secret {missing[0]} is not set: export it in the environment before applying")


@dataclass
class Progress:
    """Where a run stands, for a progress display."""

    commands_done: int
    commands_total: int
    batches_done: int
    batches_total: int
    waited_s: float


@dataclass
class _Step:
    command: Command
    batch_index: int
    status: StepStatus | None = None
    result: JsonValue = None
    error_code: str | None = None
    error_description: str | None = None
    skip_reason: str | None = None
    attempts: int = 0
    limit_retries: int = 0
    unanswered: int = 0
    """Answers that listed this command neither in their results nor in their errors."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A command ready to send: its final parameters, and whether it needs a command of its own request."""

    command: Command
    params: dict[str, Any]
    after_same_request: bool


@dataclass
class Execution:
    """What a run did: one entry per command, one per batch, and why it stopped early if it did."""

    steps: Sequence[StepResult]
    batches: list[BatchResult]
    requests: int
    retries: int
    waited_s: float
    interrupted: bool = False
    fatal: B24SyncError | None = None


@dataclass
class Executor:
    """Runs one plan once."""

    plan: Plan
    client: B24Hook
    halt_on_error: bool = True
    secrets: Mapping[str, str] = field(default_factory=dict)
    recorded: Mapping[str, JsonValue] = field(default_factory=dict)
    should_stop: Callable[[], bool] = lambda: False
    on_progress: Callable[[Progress], None] | None = None
    clock: Callable[[], float] = time.monotonic
    journal: Journal = field(default_factory=NoJournal)
    """Told of every request before it is sent and of what its answer settled (``b24sync.run.journal``)."""
    window: int = WINDOW_COMMANDS
    """Commands per window: the run goes a window of batches at a time and keeps, of a finished
    window, only its outcomes (``StepResult``) and the linked values later windows read."""
    results: ReportResults = "full"
    """How much of each command's result its ``StepResult`` keeps: ``full`` (the result, or a summary),
    or ``ids`` / ``none`` (the created id only, as a lean report file writes it)."""
    parallel: int = 1
    """How many requests may be in flight at once: independent batches of a window go out together;
    ``PARALLEL_AUTO``: as many as the measured server time and the rate limit call for (``_slots``)."""
    streamed: StreamedPlan | None = None
    """A plan made while the run goes (``b24sync.planning.streaming``): ``plan`` is its head, and
    the batches of ``streamed.rest()`` follow, a window at a time."""

    def __post_init__(self) -> None:
        check_parallel(self.parallel)
        self._lock = threading.RLock()
        """Held by whoever touches the run's state; released only around a request on the wire."""
        head = cut_windows(self.plan.batches, self.window) if self.plan.batches else []
        self.total = sum(window.commands for window in head)
        self.batches_total = len(self.plan.batches)
        if self.streamed is not None:
            self.total, self.batches_total = self.streamed.commands, self.streamed.batches
        self.imports: Mapping[str, tuple[Imported, ...]] = self.plan.imports
        """The records of each import command (``Plan.imports``; of a streamed plan, those made so far)."""
        if self.streamed is not None:
            self.imports = self.streamed.imports
        self.windows: Iterator[Window] = self._windows(head)
        self.steps: dict[str, _Step] = {}
        """The commands of the current window, and those of earlier windows a later one still reads."""
        self.linked: dict[str, set[tuple[str | int, ...]]] = {}
        for command in self.plan.commands():
            for link in command.links:
                self.linked.setdefault(link.target, set()).add(link.path)
        # a lean run keeps its entries in columns (a million of them in 60 MB, not 730)
        self.finished: list[StepResult] | Entries = [] if self.results == "full" else Entries()
        self.done = 0
        """Commands of the finished windows."""
        self.current: list[str] = []
        self.settled = 0
        """Commands of the current window with an outcome (``_settle``; those an earlier run recorded)."""
        check_secrets(self.plan, self.secrets)
        self.redact = Redactor(*self.secrets.values())
        self.batch_results: list[BatchResult] = []
        self.requests = 0
        self.interrupted = False
        self.fatal: B24SyncError | None = None
        self.stopped = False
        self.server_seconds = 0.0
        """The server time of the last answered request (its ``time.duration``): what ``_slots`` measures."""
        self.answers = 0
        """Requests answered so far."""

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Execution:
        """Send every batch, then account for every command."""
        client_retries, client_waited = self.client.stats.retries, self.client.stats.waited
        with self._lock:
            while True:
                try:
                    window = next(self.windows, None)
                except B24SyncError as error:  # the rest of a streamed plan cannot be made
                    self.fatal, self.stopped = error, True
                    break
                if window is None:
                    break
                keys = self._open(window)
                try:
                    if self.parallel != 1:
                        with self._released():
                            self._run_parallel(window.batches)
                    else:
                        for batch in window.batches:
                            if self.stopped:
                                break
                            self._run_batch(batch.index, [c.key for c in batch.commands])
                except (KeyboardInterrupt, Interrupted):
                    # Interrupted: the client stopped in a wait, before sending; what waited did not run
                    self.interrupted = self.stopped = True
                self._close_remaining(keys)
                self._finish(window, keys)
        self.batch_results.sort(key=lambda batch: batch.index)  # parallel batches end in any order
        steps: Sequence[StepResult]
        if isinstance(self.finished, Entries):
            steps = self.finished
            if self.plan.unsent:
                columns = Entries()
                columns.extend(unsent_results(self.plan.unsent))
                columns.extend(self.finished)
                steps = columns
        else:
            steps = [*unsent_results(self.plan.unsent), *self.finished]
        return Execution(
            steps=steps,
            batches=self.batch_results,
            requests=self.requests,
            retries=self.client.stats.retries - client_retries,
            waited_s=self.client.stats.waited - client_waited,
            interrupted=self.interrupted,
            fatal=self.fatal,
        )

    def _windows(self, head: list[Window]) -> Iterator[Window]:
        """The windows of the plan, then those of a streamed plan's rest, made as they are reached."""
        if self.streamed is None:
            yield from head
            return
        linked = self.streamed.linked  # every later window reads these: kept to the end
        for window in head:
            yield replace(window, keep=window.keep | linked)
        batches: list[Batch] = []
        filled = 0
        imports = self.imports
        least = 1
        for batch in self._rest():
            batches.append(batch)
            # a window holds about ``window`` entries: an import command is as many as its records
            if imports:
                filled += sum(len(imports.get(c.key, _ONE)) for c in batch.commands)
                least = IMPORT_WINDOW_BATCHES
            else:
                filled += len(batch.commands)
            if filled >= self.window and len(batches) >= least:
                yield Window(tuple(batches), linked, frozenset())
                batches, filled = [], 0
        if batches:
            yield Window(tuple(batches), linked, frozenset())

    def _rest(self) -> Iterator[Batch]:
        """A streamed plan's batches after its head; once the run has stopped, only what the report
        entries of the commands it will not send need (``StreamedPlan.unsent``)."""
        assert self.streamed is not None
        made = self.streamed.rest()
        while not self.stopped:
            batch = next(made, None)
            if batch is None:
                return
            yield batch
        yield from self.streamed.unsent()

    @contextmanager
    def _released(self) -> Iterator[None]:
        """Let other threads at the run's state while this one waits on the portal."""
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()

    def _run_parallel(self, batches: tuple[Batch, ...]) -> None:
        """Run a window's batches, up to ``parallel`` at once, each once what it needs has settled."""
        waiting = list(batches)
        needs = _needs(batches)
        settled: set[int] = set()
        running: dict[Future[None], int] = {}
        started: dict[Future[None], float] = {}
        auto = self.parallel == PARALLEL_AUTO
        last = self.done + sum(len(batch.commands) for batch in batches) >= self.total
        with ThreadPoolExecutor(
            MAX_PARALLEL if auto else self.parallel, thread_name_prefix="b24sync-apply"
        ) as pool:
            try:
                while waiting or running:
                    with self._lock:
                        if not self.stopped and self.should_stop():
                            self.interrupted = self.stopped = True
                        stopped = self.stopped
                        slots = self._slots(started.values()) if auto else self.parallel
                    for batch in [] if stopped else _ready(waiting, needs, settled, slots - len(running)):
                        waiting.remove(batch)
                        future = pool.submit(self._run_one, batch)
                        running[future], started[future] = batch.index, self.clock()
                    if not running:
                        break  # stopped (an earlier batch always becomes sendable: needs point back)
                    if last and not waiting:
                        self.client.finishing(True)  # the requests out now are the run's last
                    # measured, before the first answer: wake up when the oldest request has been
                    # out long enough to let the rest go (``_slots``)
                    grow = auto and waiting and len(running) < MAX_PARALLEL
                    with self._lock:
                        timeout = self._until_more(started.values()) if grow else None
                    done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        settled.add(running.pop(future))
                        del started[future]
                        future.result()  # a bug in a worker stops the run as it would a serial one
            except BaseException:
                with self._lock:
                    self.stopped = True  # nothing new is sent; the pool waits for what is in flight
                _drain(running)
                raise
            finally:
                self.client.finishing(False)

    def _slots(self, started: Iterable[float]) -> int:
        """The measured number of requests in flight: the rate limit admits one every
        ``request_interval`` seconds, so ``ceil(server seconds / interval)`` of them keep it busy.

        The server seconds are those of the last answer. Before the run's first answer the number
        is 1 until the oldest request has been out for ``SLOW_ANSWER`` of an interval, then
        ``MAX_PARALLEL``: a request that is not back by then is worth company, and until an answer says how
        long requests take the pool is filled at once (the bucket's burst admits it, and the
        client keeps no more requests of a method in flight than fit its operating budget at their
        worst, ``client.pacing``); the first answer sets the number. An answer in milliseconds, as
        an instant portal gives, never lets a second request go. While the operating budget holds
        requests back (``B24Hook.budget_bound``) the number is ``MAX_PARALLEL``, so a refill is
        spent at once.
        """
        interval = self.client.request_interval
        if self.answers and self.client.budget_bound():
            # the budget decides when requests go: each refill admits a budget's worth at once, and
            # the pacing lets no more of them out than fit it (issue 17: 10 at once took 594 s for
            # 5,000 cloud adds where 3 took 605 s; 59 s for the small budget where 3 took 65 s)
            wanted = MAX_PARALLEL
        elif self.answers:
            wanted = math.ceil(self.server_seconds / interval - 1e-9)
        else:
            oldest = max((self.clock() - at for at in started), default=0.0)
            wanted = MAX_PARALLEL if oldest >= SLOW_ANSWER * interval - 1e-9 else 1
        return max(1, min(MAX_PARALLEL, wanted))

    def _until_more(self, started: Iterable[float]) -> float | None:
        """Seconds until ``_slots`` may grow with no answer coming in: until the oldest request has
        been out ``SLOW_ANSWER`` of an interval, before the first answer; None once that is past
        (only an answer changes it then)."""
        slow = SLOW_ANSWER * self.client.request_interval
        left = slow - max((self.clock() - at for at in started), default=0.0)
        if self.answers or left < -1e-9:
            return None
        return max(0.0, left) + _WAKE

    def _run_one(self, batch: Batch) -> None:
        with self._lock:
            try:
                self._run_batch(batch.index, [c.key for c in batch.commands])
            except Interrupted:
                self.interrupted = self.stopped = True

    def _open(self, window: Window) -> list[str]:
        """Make the window's commands current (those ``recorded`` by an earlier run already succeeded)."""
        keys: list[str] = []
        settled = 0
        for batch in window.batches:
            for command in batch.commands:
                step = _Step(command, batch.index)
                if command.key in self.recorded:
                    # a resumed run's own store hands each result over once (``run.recorded``)
                    recorded, key = self.recorded, command.key
                    result = recorded.take(key) if isinstance(recorded, Recorded) else recorded[key]
                    step.status, step.result = "succeeded", result
                    settled += 1
                self.steps[command.key] = step
                keys.append(command.key)
        self.current, self.settled = keys, settled
        return keys

    def _finish(self, window: Window, keys: list[str]) -> None:
        """Turn the window's commands into report entries and forget all that no later window reads."""
        kept: dict[str, set[tuple[str | int, ...]]] = {}
        for target, path in window.keep:
            kept.setdefault(target, set()).add(path)
        for key in keys:
            # issue 17: a crm.item.batchImport command reports one entry per record (run/importing.py)
            imported = self.imports.get(key)
            if imported:
                self.finished.extend(self._records(self.steps[key], imported))
                if self.streamed is not None:
                    del self.streamed.imports[key]  # a streamed plan's records are kept a window
            elif not (isinstance(self.finished, Entries) and self._lean_entry(self.steps[key])):
                entry = self._step_result(self.steps[key])
                self.finished.append(entry)  # ``built``: its set of fields is shared already
        for key in list(self.steps):
            if key in kept:
                step = self.steps[key]
                step.result = pruned(step.result, kept[key])
            elif key not in window.depended:
                del self.steps[key]
            else:
                self.steps[key].result = None  # only its outcome is read later
        self.done += len(keys)
        self.current, self.settled = [], 0

    def _run_batch(self, index: int, keys: list[str]) -> None:
        started = self.clock()
        attempts = 0
        while not self.stopped:
            pending = [k for k in keys if self.steps[k].status is None]
            if not pending:
                break
            if self.should_stop():
                self.interrupted = self.stopped = True
                break
            request = self._prepare(pending)
            if not request:
                if all(self.steps[k].status is None for k in pending):
                    for key in pending:  # only a plan out of dependency order can get here
                        self._settle(
                            self.steps[key],
                            "failed",
                            code="PLAN_ORDER",
                            description="depends on a command that comes later in the plan",
                        )
                continue
            attempts += 1
            self._send(request)
            self._report_progress(index)
        if attempts:
            self.batch_results.append(
                BatchResult(
                    index=index,
                    commands=len(keys),
                    attempts=attempts,
                    duration_s=round(self.clock() - started, 6),
                )
            )

    def _prepare(self, pending: list[str]) -> dict[str, _Prepared]:
        """The commands of the next request with their final parameters; settles the unsendable."""
        request: dict[str, _Prepared] = {}
        for key in pending:
            step = self.steps[key]
            command = step.command
            blocker = self._blocker(command)
            if blocker is not None:
                self._settle(step, "skipped", reason=blocker)
                continue
            if any(self._status(d) is None and d not in request for d in command.depends_on):
                continue  # its dependency is waiting for a later request
            replacements: dict[str, Any] = {}
            in_request = False
            try:
                for link in command.links:
                    if link.target in request:
                        in_request = True
                        continue
                    target = self.steps.get(link.target)
                    replacements[link.marker] = follow(None if target is None else target.result, link.path)
                params = (
                    substitute(command.params, replacements, self._secret)
                    if replacements or command.secrets
                    else command.params
                )
            except LinkError as error:
                link_name = next((lk.marker for lk in command.links if lk.marker not in replacements), "")
                self._settle(
                    step,
                    "failed",
                    code="LINK_MISSING",
                    description=f"link {link_name}: {error}; nothing was sent for this step",
                )
                continue
            in_request = in_request or any(d in request for d in command.depends_on)
            if not isinstance(params, dict):
                raise UsageError(f"parameters of {key} must be a map")
            request[key] = _Prepared(command, params, in_request)
        return request

    def _status(self, key: str) -> StepStatus | None:
        # a command of a later window (only a plan out of dependency order waits for one) has not run
        step = self.steps.get(key)
        return None if step is None else step.status

    def _secret(self, name: str) -> str:
        return self.secrets[name]  # check_secrets made sure every one is there

    def _blocker(self, command: Command, blocking: frozenset[str] = _BAD) -> str | None:
        for dep in command.depends_on:
            status = self._status(dep)
            if status in blocking:
                word = {
                    "failed": "failed",
                    "skipped": "was skipped",
                    "not_run": "did not run",
                    "unknown": "has an unknown outcome",
                }[status]
                return f"depends on {dep}, which {word}"
        return None

    def _send(self, request: dict[str, _Prepared]) -> None:
        halt = self.halt_on_error or any(p.after_same_request for p in request.values())
        try:
            # The planner encoded every command; only those whose parameters changed are encoded again.
            encoded = {
                key: p.command.query
                if p.params is p.command.params
                else encode_command(p.command.method, p.params)
                for key, p in request.items()
            }
        except UsageError as error:
            for key in request:
                self._settle(self.steps[key], "failed", code="ENCODING", description=str(error))
            return
        methods = {key: p.command.method for key, p in request.items()}
        repeatable = {key for key, p in request.items() if is_safe_to_repeat(p.command.method, p.params)}
        safe = len(repeatable) == len(request)
        request_id = self.requests + 1
        # written and forced to disk before the request goes out: a write is never sent unrecorded
        # (an import command as its records, each of which the answer settles apart)
        self.journal.record_sending(request_id, journaled(self.imports, list(request)), repeatable)
        for key in request:
            self.steps[key].attempts += 1
        self.requests += 1
        try:
            try:
                with self._released():
                    reply = self.client.send_batch(encoded, halt=halt, methods=methods, safe=safe)
                self.server_seconds = _duration(reply.time, self.server_seconds)
                self.answers += 1
            except OutcomeUnknownError as error:
                self._lost(request, str(error))
                return
            except PortalError as error:
                self.fatal, self.stopped = error, True
                return
            except KeyboardInterrupt:
                self._lost(request, "interrupted while the request was in flight")
                self.interrupted = True
                return
            self._take_reply(request, reply)
        finally:
            self.journal.record_answer(request_id, self._outcomes(request))

    def _outcomes(self, request: Mapping[str, _Prepared]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        for key in request:
            step = self.steps[key]
            if step.status is None:
                continue
            imported = self.imports.get(key)
            if imported:
                for record in per_instance(self._step_result(step, whole=True), imported):
                    outcomes[record.command_key] = Outcome(
                        record.status, record.result, record.error_code, record.error_description
                    )
                continue
            kept = pruned(step.result, self.linked.get(key, ()))
            outcomes[key] = Outcome(step.status, kept, step.error_code, step.error_description)
        return outcomes

    def _take_reply(self, request: Mapping[str, _Prepared], reply: BatchReply) -> None:
        limited: list[str] = []
        failed = False
        for key in request:
            step = self.steps[key]
            if key in reply.errors:
                refusal = reply.errors[key]
                if refusal.code in LIMIT_CODES and step.limit_retries < self.client.retry.limit_attempts:
                    step.limit_retries += 1
                    limited.append(key)
                    continue
                failed = True
                self._settle(step, "failed", code=refusal.code, description=refusal.description)
            elif key in reply.results:
                self._succeed(step, reply.results[key])
        # protocol §5.4: a command is missing from an answer only when halt stopped the batch at an error;
        # missing with no error at all, the answer is not the portal's: resent a few times, then a stop
        unanswered = [k for k in request if self.steps[k].status is None and k not in limited]
        if unanswered and not failed and not limited:
            for key in unanswered:
                self.steps[key].unanswered += 1
            if max(self.steps[k].unanswered for k in unanswered) > MAX_UNANSWERED_RESENDS:
                self._unanswered({k: request[k] for k in unanswered})
                return
        if failed and self.halt_on_error:
            self.stopped = True
        elif limited:
            first = self.steps[limited[0]]
            code = reply.errors[limited[0]].code
            with self._released():
                self.client.wait_for_limit(code, [first.command.method], first.limit_retries)

    def _succeed(self, step: _Step, result: JsonValue) -> None:
        for link in step.command.links:
            target = self.steps.get(link.target)
            if target is None or target.status != "succeeded":
                continue
            try:
                follow(target.result, link.path)
            except LinkError as error:
                self._settle(
                    step,
                    "failed",
                    code="LINK_UNRESOLVED",
                    result=result,
                    description=(
                        f"link {link.marker} did not resolve ({error}); the portal ran this step with a "
                        "fallback value: check what it wrote"
                    ),
                )
                return
        self._settle(step, "succeeded", result=result)

    def _unanswered(self, request: Mapping[str, _Prepared]) -> None:
        times = MAX_UNANSWERED_RESENDS + 1
        why = (
            f"the portal answered {times} times without a result or an error for {len(request)} command(s), "
            "which Bitrix24 never does (protocol §5.4): check that the webhook URL is of a Bitrix24 portal"
        )
        self._lost(request, why)
        self.fatal = ProtocolError(why)

    def _lost(self, request: Mapping[str, _Prepared], why: str) -> None:
        for key, prepared in request.items():
            step = self.steps[key]
            if is_safe_to_repeat(prepared.command.method, prepared.params):
                self._settle(step, "not_run", reason=f"not sent again after a lost answer: {why}")
            else:
                self._settle(step, "unknown", code=UNKNOWN_CODE, description=f"{UNKNOWN_ADVICE} ({why})")
        self.stopped = True

    def _settle(
        self,
        step: _Step,
        status: StepStatus,
        *,
        code: str | None = None,
        description: str | None = None,
        reason: str | None = None,
        result: JsonValue = None,
    ) -> None:
        if step.status is None:
            self.settled += 1
        step.status = status
        step.error_code = code
        step.error_description = self.redact(description) if description is not None else None
        step.skip_reason = reason
        step.result = self._redact_json(result)

    def _close_remaining(self, keys: list[str]) -> None:
        why = (
            "interrupted"
            if self.interrupted
            else f"the run stopped: {self.fatal}"
            if self.fatal is not None
            else "the run stopped after a failure (halt on error)"
        )
        for key in keys:
            step = self.steps[key]
            if step.status is None:
                # a dependency that merely did not run leaves its dependents not run, not skipped
                blocker = self._blocker(step.command, _BAD - {"not_run"})
                if blocker is not None:
                    self._settle(step, "skipped", reason=blocker)
                else:
                    self._settle(step, "not_run", reason=self.redact(why))

    def _report_progress(self, index: int) -> None:
        if self.on_progress is None:
            return
        # counted as they settle: walking the window's commands after every request took 0.6 s
        # of CPU at 100,000 rows, 5,000 commands a window (py-spy, GIL holder)
        done = self.done + self.settled
        self.on_progress(Progress(done, self.total, index + 1, self.batches_total, self.client.stats.waited))

    def _redact_json(self, value: JsonValue) -> JsonValue:
        if not self.secrets or value is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self._redact_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_json(v) for v in value]
        return value

    def _records(self, step: _Step, imported: Sequence[Imported]) -> list[StepResult]:
        """The entry of each record of an import command: split from its whole answer (each record's
        id is in ``items``) whatever the report keeps, then lean as the report is."""
        records = per_instance(self._step_result(step, whole=True), imported)
        if self.results != "full":
            records = [r.model_copy(update={"result": None, "summary": None}) for r in records]
        return [compact(record) for record in records]

    def _lean_entry(self, step: _Step) -> bool:
        """Put the lean entry of ``step`` into the columns of ``finished`` with no model made for it,
        as ``_step_result`` would give it; False (nothing added) when it is not a plain one."""
        assert isinstance(self.finished, Entries)
        command = step.command
        status, ident, reason = _outcome(step)
        return self.finished.add(
            command.step,
            command.instance,
            command.key,
            command.method,
            status,
            step.batch_index,
            step.attempts,
            ident,
            step.error_code,
            step.error_description,
            reason,
        )

    def _step_result(self, step: _Step, whole: bool = False) -> StepResult:
        command = step.command
        status, ident, reason = _outcome(step)
        full = whole or self.results == "full"
        summary = summarize_result(step.result) if full and status == "succeeded" and ident is None else None
        # made from what this run settled, not read from outside: validating each entry (its result
        # walked value by value as JSON) cost a fifth of the CPU of 5,000 adds. ``_settle`` and
        # ``_succeed`` keep what ``StepResult`` checks (a failure has a code, a success none);
        # tests/run/test_report_entries_valid.py validates every kind of entry a run makes.
        return built(
            StepResult,
            {
                "step": command.step,
                "instance": command.instance,
                "command_key": command.key,
                "method": command.method,
                "status": status,
                "batch_index": step.batch_index,
                "attempts": step.attempts,
                "created_id": ident,
                "summary": summary,
                "error_code": step.error_code,
                "error_description": step.error_description,
                "skip_reason": reason,
                "result": step.result if full and status == "succeeded" else None,
            },
        )


def _outcome(step: _Step) -> tuple[StepStatus, int | str | None, str | None]:
    """The status a command's entry reports, the id it created, and why it did not run."""
    status = step.status or "not_run"
    ident = created_id(step.command.method, step.result) if status == "succeeded" else None
    return status, ident, step.skip_reason if status in ("skipped", "not_run") else None


def _ready(waiting: list[Batch], needs: Mapping[int, set[int]], settled: set[int], free: int) -> list[Batch]:
    """The first ``free`` waiting batches whose needs have settled, in order: the scan stops there,
    so a window of independent batches is not walked whole for every request that goes out."""
    ready: list[Batch] = []
    for batch in waiting if free > 0 else ():
        if needs[batch.index] <= settled:
            ready.append(batch)
            if len(ready) == free:
                break
    return ready


def _needs(batches: tuple[Batch, ...]) -> dict[int, set[int]]:
    """For every batch, the earlier batches of the window it links to or depends on."""
    position = {command.key: batch.index for batch in batches for command in batch.commands}
    needs: dict[int, set[int]] = {}
    for batch in batches:
        targets = {t for c in batch.commands for t in (*(link.target for link in c.links), *c.depends_on)}
        needs[batch.index] = {position[t] for t in targets if position.get(t, batch.index) < batch.index}
    return needs


def _duration(block: Mapping[str, Any] | None, default: float) -> float:
    """The server seconds of a request from its ``time`` block (``duration``), else ``default``."""
    value = block.get("duration") if isinstance(block, Mapping) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


def _drain(running: Mapping[Future[None], int]) -> None:
    """Wait for the requests in flight to settle, through further Ctrl-Cs: their answers are recorded."""
    while True:
        try:
            wait(running)
            return
        except KeyboardInterrupt:
            continue


def execute(plan: Plan, client: B24Hook, **options: Any) -> Execution:
    """Run ``plan`` through ``client``; see ``Executor`` for the options."""
    return Executor(plan, client, **options).run()
