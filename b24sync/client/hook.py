"""``B24Hook``: the Bitrix24 REST client, a Python port of the b24jssdk call family.

Every request goes through ``B24Hook._post``, which owns the rules of protocol §7: the client-side
leaky bucket, waits for ``QUERY_LIMIT_EXCEEDED`` and ``OPERATION_TIME_LIMIT``, retries of 5xx answers,
timeouts and dropped connections only when every command of the request is safe to repeat, the
portal-renamed redirect, and the redaction of the webhook secret from everything it raises or logs.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from b24sync.bitrix.advice import advice
from b24sync.bitrix.codes import AUTH_CODES, LIMIT_CODES, METHOD_NOT_FOUND, OVERLOAD_LIMIT, QUERY_LIMIT
from b24sync.bitrix.limits import MAX_BATCH, OPERATING_LIMIT, OPERATING_WINDOW, STANDARD_RATE
from b24sync.bitrix.methods import is_safe_to_repeat
from b24sync.client.batching import BatchCall, normalize_calls, referenced_keys
from b24sync.client.encoding import batch_payload, compact_json, encode_command, response_maps
from b24sync.client.listing import KeysetWalk
from b24sync.client.pacing import OperatingBudget
from b24sync.client.ratelimit import LeakyBucket, RateLimit
from b24sync.client.redaction import LOG_REDACTION, Redactor
from b24sync.client.results import AjaxResult, BatchReply, CommandError, Result, as_int, command_error
from b24sync.client.transport import Answer, Exchange, Route, exchange
from b24sync.client.webhook import Webhook, check_webhook_url
from b24sync.errors import (
    ApiError,
    AuthError,
    Interrupted,
    ListPageError,
    MethodNotFoundError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TransportError,
    UsageError,
)
from b24sync.version import __version__

log = logging.getLogger("b24sync.client")

_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": f"b24sync/{__version__}",
}

_MAX_REDIRECTS = 3


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry (protocol §7.4)."""

    attempts: int = 4
    backoff: float = 1.0
    backoff_cap: float = 30.0
    jitter: float = 0.1
    limit_attempts: int = 6
    """Waits for a limit error, of a whole request or of one command, before it is final."""
    query_limit_wait: float = 1.5
    deadline: float = 120.0
    """Seconds one call may spend on attempts that fail and on backing off between them; waits for
    limits do not count. Against a portal that never answers, a call gives up after about this long."""
    unproven_retries: int = 1
    """Retries of a 5xx page that is not JSON while the host has never given a Bitrix24 answer: such a
    host is most likely no portal (a file server's 501, a proxy's 502), so it is not retried for long."""


@dataclass
class ClientStats:
    """What the client did: requests sent, retries, seconds waited for limits or backoff."""

    requests: int = 0
    retries: int = 0
    waited: float = 0.0
    """Seconds waited for the portal's limits (the request rate, operating time)."""
    backoff: float = 0.0
    """Seconds waited between retries of failed attempts (not limits)."""
    by_status: dict[int, int] = field(default_factory=dict)


@dataclass
class _Tries:
    """Counters of one request's attempts, each with its own limit."""

    started: float
    failures: int = 0
    limit_waits: int = 0
    redirects: int = 0
    limit_waited: float = 0.0
    strange: int = 0
    """5xx answers that were not JSON while the host has never given a Bitrix24 answer."""


class B24Hook:
    """A client for one inbound webhook."""

    def __init__(
        self,
        webhook: Webhook | str,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (10.0, 75.0),
        rate_limit: RateLimit | str | None = "standard",
        operating_limit: float = OPERATING_LIMIT,
        operating_window: float = OPERATING_WINDOW,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        verify: bool | str | None = None,
        allow_http: bool = False,
    ) -> None:
        self._webhook = (
            check_webhook_url(webhook, allow_http=allow_http) if isinstance(webhook, str) else webhook
        )
        self.redact = Redactor(self._webhook.secret)
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        if verify is not None:
            # a CA bundle path, or False for no check (b24sync.client.tls decides when that is allowed)
            self._session.verify = verify
        self._routes: dict[str, Route] = {}
        """Each URL's prepared request (a renamed portal gets its own)."""
        self._timeout = timeout
        limit = RateLimit.parse(rate_limit)
        self._bucket = LeakyBucket(limit, clock) if limit is not None else None
        self._budget = OperatingBudget(wall_clock, operating_limit, operating_window)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._should_stop: Callable[[], bool] | None = None
        self._rng = rng or random.Random()
        self.stats = ClientStats()
        self._spoke_bitrix = False
        """Whether the host ever answered with a JSON object (as Bitrix24 does, errors and all)."""
        self._gate = threading.Lock()
        """Held from the limit check to the bucket's count: with parallel requests (``apply --parallel``)
        one request at a time is admitted, so no two plan on the same room (protocol §7.1, §7.2)."""
        self._counting = threading.Lock()
        LOG_REDACTION.register(self.redact)
        # a client dropped without ``close`` (one made per job in a long-lived process) unregisters
        # as it is freed: the filter runs every redactor on every record of urllib3 and requests
        self._unregister = weakref.finalize(self, LOG_REDACTION.unregister, self.redact)

    @classmethod
    def from_webhook_url(cls, url: str, **options: Any) -> B24Hook:
        """A client for ``https://<portal>/rest/<user id>/<code>/``."""
        return cls(check_webhook_url(url, allow_http=bool(options.pop("allow_http", False))), **options)

    def __repr__(self) -> str:
        return f"B24Hook({self._webhook.redacted_url})"

    @property
    def host(self) -> str:
        """The portal's host name."""
        return self._webhook.host

    @property
    def redacted_url(self) -> str:
        """The webhook URL with its secret shown as ``***``."""
        return self._webhook.redacted_url

    @property
    def request_interval(self) -> float:
        """Seconds between two requests the rate limit admits once its burst is spent: ``1 / rate``
        of this client's bucket, or of the standard one when it has none (protocol §7.1)."""
        rate = self._bucket.limit.rate if self._bucket is not None else STANDARD_RATE[1]
        return 1.0 / rate

    def finishing(self, last: bool) -> None:
        """Tell the pacing whether the requests waiting and in flight are the run's last: at the edge
        of the operating budget they then go together when one going first would hold the others
        back (``OperatingBudget.finishing``)."""
        self._budget.finishing = last

    def budget_bound(self) -> bool:
        """Whether a request waited for a method's operating budget within the last window
        (``OperatingBudget.budget_bound``)."""
        return self._budget.budget_bound()

    @property
    def retry(self) -> RetryPolicy:
        """How this client retries; the executor's per-command limit retries follow it too."""
        return self._retry

    def stop_waits_when(self, should_stop: Callable[[], bool] | None) -> None:
        """Let ``should_stop`` (a first Ctrl-C) end a wait for a limit or a retry before the next request.

        The wait then raises ``Interrupted``: nothing more is sent, so what was waiting did not run.
        ``None`` lets waits run to their end again.
        """
        self._should_stop = should_stop

    def close(self) -> None:
        """Release the HTTP session (when the client made it) and the log redaction."""
        self._unregister()
        if self._own_session:
            self._session.close()

    def __enter__(self) -> B24Hook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one way out -----------------------------------------------------------------------

    _WAIT_SLICE = 0.25
    """Seconds between two looks at the stop flag while waiting."""

    def _wait(self, seconds: float, why: str, *, backoff: bool = False) -> None:
        self._check_stop(why)
        if seconds <= 0:
            return
        log.info("waiting %.2f s: %s", seconds, why)
        if backoff:
            self.stats.backoff += seconds
        else:
            self.stats.waited += seconds
        if self._should_stop is None:
            self._sleep(seconds)
            return
        # In slices: a signal handler that only sets a flag does not cut a sleep short (PEP 475).
        left = seconds
        while left > 0:
            step = min(left, self._WAIT_SLICE)
            self._sleep(step)
            left -= step
            self._check_stop(why)

    def _check_stop(self, why: str) -> None:
        if self._should_stop is not None and self._should_stop():
            raise Interrupted(f"stopped before the next request ({why}); nothing more was sent")

    def _backoff(self, attempt: int) -> float:
        base = min(self._retry.backoff * 2**attempt, self._retry.backoff_cap)
        jitter = self._rng.uniform(-self._retry.jitter, self._retry.jitter)
        return float(base * (1 + jitter))

    def _post(
        self,
        method: str,
        payload: Mapping[str, Any],
        *,
        safe: bool,
        methods: Sequence[str],
        commands: Sequence[str] = (),
        demand: Mapping[str, int] | None = None,
    ) -> Answer:
        """Send one request with every rule of protocol §7; return a JSON answer or raise.

        ``demand`` is how many commands of each method the request holds (one each when not given):
        the request waits until every method's operating budget has room for them (``client.pacing``).
        """
        body = compact_json(payload).encode("utf-8")
        tries = _Tries(self._clock())
        while True:
            got = self._try(method, body, demand or dict.fromkeys(methods, 1), tries)
            answer = got.answer
            if answer is not None and answer.is_redirect:
                self._follow(answer, tries)
                continue
            if got.json:
                assert answer is not None
                self._spoke_bitrix = True
                code = answer.code
                if code in LIMIT_CODES:
                    self._wait_out_limit(answer, methods, tries)
                    continue
                if code is not None:
                    self._raise_hard_error(code, answer, methods)
                if answer.status < 500 or (code is None and "result" in answer.body):
                    return answer
            elif answer is not None and answer.status < 500:
                raise TransportError(
                    f"{self.host} is not answering like Bitrix24: {self.redact(got.problem or '')}"
                )
            elif answer is not None and not self._spoke_bitrix:
                # a page of a server that never answered as Bitrix24 does (a file server's 501, a
                # proxy with no portal behind it): one retry for a passing hiccup, never until the deadline
                tries.strange += 1
                if tries.strange > self._retry.unproven_retries and (safe or not got.sent):
                    raise TransportError(
                        f"{self.host} is not answering like Bitrix24: {self.redact(got.problem or '')}, "
                        "twice, and it has never given a Bitrix24 answer",
                        answered=True,
                    )
            self._after_failure(got, safe, commands, tries)

    def _try(self, method: str, body: bytes, demand: Mapping[str, int], tries: _Tries) -> Exchange:
        """Wait for both limits, then make one exchange and count it."""
        before = self._clock()
        self._budget.waiting(demand)  # the budget plans the requests waiting at the gate together
        try:
            with self._gate:
                while (budget_wait := self._budget.delay(demand)) > 0:
                    self._wait(budget_wait, f"operating-time budget of {', '.join(demand)}")
                if self._bucket is not None:
                    self._wait(self._bucket.delay(), "request rate limit")
                self._check_stop("a stop was asked for")
                if self._bucket is not None:
                    self._bucket.take()
                self._budget.sending(demand)
                self.stats.requests += 1
        finally:
            self._budget.waiting(None)  # sent (``sending`` took it off already), or not sent at all
        tries.limit_waited += self._clock() - before
        got = exchange(
            self._session,
            self._webhook.method_url(method),
            body,
            _HEADERS,
            timeout=self._attempt_timeout(tries),
            host=self.host,
            redact=self.redact,
            routes=self._routes,
        )
        if got.answer is not None:
            status = got.answer.status
            with self._counting:
                self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        return got

    def _attempt_timeout(self, tries: _Tries) -> float | tuple[float, float]:
        """The read timeout of the next attempt: never past what is left of the call's deadline."""
        left = max(1.0, self._retry.deadline - self._spent(tries))
        if isinstance(self._timeout, tuple):
            return (min(self._timeout[0], left), min(self._timeout[1], left))
        return min(self._timeout, left)

    def _spent(self, tries: _Tries) -> float:
        """Seconds this call spent on anything but waiting for limits."""
        return self._clock() - tries.started - tries.limit_waited

    def _follow(self, answer: Answer, tries: _Tries) -> None:
        """A renamed portal: use the host of ``Location`` from now on, when protocol §1.1 allows."""
        tries.redirects += 1
        location = str(answer.body.get("location", ""))
        if tries.redirects > _MAX_REDIRECTS or not location:
            raise TransportError(f"{self.host} redirected too often or without a Location")
        try:
            self._webhook = self._webhook.moved_to(location)
        except UsageError as error:
            raise TransportError(self.redact(str(error))) from None
        log.warning("the portal moved to %s", self._webhook.host)

    def _wait_out_limit(self, answer: Answer, methods: Sequence[str], tries: _Tries) -> None:
        """A whole request refused by a limit: nothing ran, so wait and send it again (protocol §7.4)."""
        code = answer.code or ""
        if tries.limit_waits >= self._retry.limit_attempts:
            raise RateLimitError(code, self.redact(answer.description), answer.status)
        tries.limit_waits += 1
        self.stats.retries += 1
        before = self._clock()
        self.wait_for_limit(code, methods, tries.limit_waits)
        tries.limit_waited += self._clock() - before

    def _after_failure(self, got: Exchange, safe: bool, commands: Sequence[str], tries: _Tries) -> None:
        """No usable answer: back off and try again when that is safe, else raise (protocol §7.4)."""
        answer = got.answer
        problem = got.problem
        if problem is None:
            assert answer is not None
            detail = f" {answer.code}: {answer.description}" if answer.code is not None else ""
            problem = f"HTTP {answer.status}{detail}"
        problem = self.redact(problem)  # a 5xx page may echo the request path, code and all
        if got.sent and not safe:
            raise OutcomeUnknownError(
                f"{self.host}: {problem} after the request was sent; it held writes, so it is not "
                "sent again: check the portal before re-running these commands",
                commands,
            )
        backoff = self._backoff(tries.failures)
        out_of_time = self._spent(tries) + backoff > self._retry.deadline
        if tries.failures >= self._retry.attempts or out_of_time:
            if out_of_time and tries.failures < self._retry.attempts:
                problem += f"; gave up after {self._spent(tries):.0f} s (the call's deadline)"
            if answer is not None and answer.body:
                raise ServerError(
                    answer.code or f"HTTP {answer.status}",
                    self.redact(str(answer.body.get("error_description", problem))),
                    answer.status,
                )
            raise TransportError(f"could not reach {self.host}: {problem}", answered=answer is not None)
        tries.failures += 1
        self.stats.retries += 1
        self._wait(backoff, f"{problem}; retry {tries.failures} of {self._retry.attempts}", backoff=True)

    def wait_for_limit(self, code: str, methods: Sequence[str], attempt: int) -> None:
        """Wait as protocol §7.4 says before resending commands refused with a limit ``code``."""
        if code == QUERY_LIMIT:
            if self._bucket is not None:
                self._bucket.fill()
            rate = self._bucket.limit.rate if self._bucket is not None else 2.0
            wait = max(self._retry.query_limit_wait, 1 / rate + 1) * 1.5 ** (attempt - 1)
            self._wait(wait * (1 + self._rng.uniform(0, self._retry.jitter)), "QUERY_LIMIT_EXCEEDED")
        else:
            wait = max(self._budget.block(m, self._budget.reset_at(m)) for m in methods)
            self._wait(wait, f"OPERATION_TIME_LIMIT on {', '.join(methods)}")

    def _raise_hard_error(self, code: str, answer: Answer, methods: Sequence[str]) -> None:
        description = self.redact(answer.description)
        if code in AUTH_CODES or (answer.status in (401, 403) and code in ("", "ACCESS_DENIED")):
            raise AuthError(code, description, answer.status, advice=advice(code, methods))
        if code == METHOD_NOT_FOUND:
            raise MethodNotFoundError(code, description, answer.status)
        if code == OVERLOAD_LIMIT:
            raise RateLimitError(code, description, answer.status)

    # -- single calls --------------------------------------------------------------------------

    def call_method(self, method: str, params: Mapping[str, Any] | None = None) -> AjaxResult:
        """Call one method; a method-level error is returned in the result, not raised."""
        encode_command(method)  # checks the method name before anything is sent
        try:
            answer = self._post(
                method,
                dict(params or {}),
                safe=is_safe_to_repeat(method, params),
                methods=[method],
                commands=[method],
            )
            body = answer.body
            self._budget.observe(method, body.get("time"))
        finally:
            self._budget.answered()
        if "error" in body:
            error = CommandError(
                str(body["error"]),
                self.redact(str(body.get("error_description", ""))),
                {k: v for k, v in body.items() if k not in ("error", "error_description")},
            )
            return AjaxResult(error=error, status=answer.status)
        return AjaxResult(
            body.get("result"),
            as_int(body.get("total")),
            as_int(body.get("next")),
            body.get("time"),
            None,
            answer.status,
        )

    # -- batches -------------------------------------------------------------------------------

    def send_batch(
        self,
        commands: Mapping[str, str],
        *,
        halt: bool,
        methods: Mapping[str, str],
        safe: bool,
        as_list: bool = False,
    ) -> BatchReply:
        """Send one ``batch`` of encoded commands and decode the five maps (protocol §5)."""
        payload = batch_payload(commands, halt)
        if as_list:
            payload["cmd"] = list(commands.values())
        demand: dict[str, int] = {}
        for name in methods.values():
            demand[name] = demand.get(name, 0) + 1
        try:
            answer = self._post(
                "batch",
                payload,
                safe=safe,
                methods=sorted(demand),
                commands=list(commands),
                demand=dict(sorted(demand.items())),
            )
            return self._decode_batch(commands, methods, safe, as_list, answer)
        finally:
            self._budget.answered()  # its time blocks are observed: no longer planned as in flight

    def _decode_batch(
        self,
        commands: Mapping[str, str],
        methods: Mapping[str, str],
        safe: bool,
        as_list: bool,
        answer: Answer,
    ) -> BatchReply:
        body = answer.body
        if "error" in body:
            raise ApiError(
                str(body["error"]), self.redact(str(body.get("error_description", ""))), answer.status
            )
        try:
            maps = response_maps(body.get("result"))
        except ProtocolError as error:
            problem = f"{self.host} answered the batch with something else than protocol §5 gives: {error}"
            if not safe:
                raise OutcomeUnknownError(
                    f"{problem}; the request held writes, so it is not sent again: check the portal "
                    "before re-running these commands",
                    list(commands),
                ) from None
            raise ProtocolError(problem) from None
        if as_list:
            # A list of commands comes back keyed by position; give each entry its command's key.
            keys = list(commands)
            maps = {
                name: {
                    keys[int(k)]: v
                    for k, v in m.items()
                    if k.isascii() and k.isdigit() and int(k) < len(keys)
                }
                for name, m in maps.items()
            }
        errors = {key: self._redacted(command_error(value)) for key, value in maps["result_error"].items()}
        self._budget.observe_batch(
            (methods[key], block) for key, block in maps["result_time"].items() if key in methods
        )
        seen = maps["result"].keys() | errors.keys()
        return BatchReply(
            maps["result"],
            errors,
            maps["result_total"],
            maps["result_next"],
            maps["result_time"],
            body.get("time"),
            [k for k in commands if k not in seen],
        )

    def _redacted(self, error: CommandError) -> CommandError:
        """A portal's error text may echo the request, code included (protocol §6)."""
        description = self.redact(error.description)
        return (
            error if description == error.description else CommandError(error.code, description, error.extra)
        )

    def call_batch(self, calls: Any, halt_on_error: bool = True, return_ajax_result: bool = False) -> Result:
        """Up to 50 calls in one request: a list of ``[method, params]`` or ``{method, params}``,
        or a dict of named commands in either form."""
        batch = normalize_calls(calls)
        if len(batch.calls) > MAX_BATCH:
            raise UsageError(
                f"call_batch takes at most {MAX_BATCH} commands, not {len(batch.calls)}: "
                "use call_batch_by_chunk"
            )
        return self._run_batch(batch, halt_on_error, return_ajax_result)

    def call_batch_by_chunk(
        self, calls: Any, halt_on_error: bool = True, return_ajax_result: bool = False
    ) -> Result:
        """Any number of calls, sent in chunks of 50; ``$result`` links do not cross chunks."""
        batch = normalize_calls(calls)
        merged = Result(data=[] if batch.as_list else {})
        for start in range(0, len(batch.calls), MAX_BATCH):
            chunk = BatchCall(batch.calls[start : start + MAX_BATCH], batch.as_list)
            if halt_on_error and not merged.is_success:
                merged.not_executed += [call.key for call in chunk.calls]
                if batch.as_list:
                    merged.data += [None] * len(chunk.calls)
                continue
            part = self._run_batch(chunk, halt_on_error, return_ajax_result)
            merged.errors.update(part.errors)
            merged.not_executed += part.not_executed
            merged.halted_at = merged.halted_at or part.halted_at
            if batch.as_list:
                merged.data += part.data
            else:
                merged.data.update(part.data)
        return merged

    def _run_batch(self, batch: BatchCall, halt: bool, ajax: bool) -> Result:
        encoded = {call.key: encode_command(call.method, call.params) for call in batch.calls}
        methods = {call.key: call.method for call in batch.calls}
        safe = {call.key: is_safe_to_repeat(call.method, call.params) for call in batch.calls}
        outcomes: dict[str, AjaxResult] = {}
        pending = list(encoded)
        halted_at: str | None = None
        attempts = 0
        while pending:
            reply = self.send_batch(
                {k: encoded[k] for k in pending},
                halt=halt,
                methods={k: methods[k] for k in pending},
                safe=all(safe[k] for k in pending),
                as_list=batch.as_list and pending == list(encoded),
            )
            for key in pending:
                if key not in reply.not_reached:
                    outcomes[key] = reply.ajax(key)
            limited = [k for k in pending if k in reply.errors and reply.errors[k].code in LIMIT_CODES]
            retry = limited + (reply.not_reached if limited and halt else [])
            done = set(outcomes) - set(retry)
            if (
                not retry
                or attempts >= self._retry.limit_attempts
                or any(referenced_keys(encoded[k]) & done for k in retry)
            ):
                halted_at = next((k for k in pending if k in reply.errors), None) if halt else None
                break
            attempts += 1
            self.stats.retries += 1
            code = reply.errors[limited[0]].code
            self.wait_for_limit(code, [methods[k] for k in limited], attempts)
            pending = [k for k in pending if k in retry]
        return _collect(batch, outcomes, halted_at if halt else None, ajax)

    # -- lists ---------------------------------------------------------------------------------

    def fetch_list_method(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        id_key: str = "ID",
        items_key: str | None = None,
        limit: int | None = None,
    ) -> Iterator[list[Any]]:
        """Yield a whole list page by page with keyset paging chained inside batches.

        Protocol §8.3 and §8.5: order by id ascending, ``filter[>ID]`` = last id seen, ``start=-1``;
        each request chains up to 50 pages through ``$result[p<i-1>][...][49][id]`` with ``halt=1``
        and reading stops at the first page shorter than 50 rows (later pages of that batch are
        garbage by the deepest-node fallback and are dropped).
        """
        walk = KeysetWalk(method, params, id_key, items_key, limit)
        while (commands := walk.next_commands()) is not None:
            reply = self.send_batch(commands, halt=True, methods=dict.fromkeys(commands, method), safe=True)
            yield from walk.read(reply.results, reply.errors)

    def call_fast_list_method(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        id_key: str = "ID",
        items_key: str | None = None,
        limit: int | None = None,
    ) -> Result:
        """The whole list as one ``Result`` whose data is the list of rows."""
        rows: list[Any] = []
        try:
            for page in self.fetch_list_method(method, params, id_key, items_key, limit):
                rows.extend(page)
        except ListPageError as error:
            return Result(data=rows, errors={error.key: CommandError(error.code, error.description)})
        return Result(data=rows)


def _collect(
    batch: BatchCall, outcomes: Mapping[str, AjaxResult], halted_at: str | None, ajax: bool
) -> Result:
    errors = {k: o.error for k, o in outcomes.items() if o.error is not None}
    not_executed = [call.key for call in batch.calls if call.key not in outcomes]

    if ajax:
        by_key: dict[str, Any] = {k: outcomes[k] for k in (c.key for c in batch.calls) if k in outcomes}
    else:
        by_key = {k: o.data for k, o in outcomes.items() if o.error is None}
    data: Any = [by_key.get(c.key) for c in batch.calls] if batch.as_list else by_key
    return Result(data=data, errors=errors, not_executed=not_executed, halted_at=halted_at)
