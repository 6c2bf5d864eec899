"""The ``Emulator``: one offline portal answering HTTP requests like Bitrix24."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from b24sync.emulator.batch import Outcome, run_batch
from b24sync.emulator.costs import INSTANT, CostModel, profile
from b24sync.emulator.faults import FaultPlan
from b24sync.emulator.limits import LeakyBucket, OperatingTime, RateSpec, parse_rate_limit
from b24sync.emulator.methods.base import Context, Handler, MethodError
from b24sync.emulator.phpjson import php_json_value
from b24sync.emulator.request import HttpRequest, Route, request_params, route, split_target
from b24sync.emulator.response import (
    INTERNAL,
    NOT_FOUND,
    OPERATION_TIME_LIMIT,
    HttpResponse,
    error_response,
    iso_time,
    json_response,
)
from b24sync.emulator.scopes import INSUFFICIENT_SCOPE, INSUFFICIENT_SCOPE_STATUS, allows, parse_scopes
from b24sync.emulator.state import (
    Counters,
    EmulatorError,
    StoreClass,
    default_methods,
    default_store_class,
    load_store,
    save_store,
    state_json,
)

if TYPE_CHECKING:
    import requests

log = logging.getLogger("b24sync.emulator")

BASE_URL = "https://emulator.b24sync.invalid"


@dataclass
class _Meter:
    """One request's modelled server time: where it started and how much of it is spent so far."""

    model: CostModel
    start: float
    spent: float
    pause: Callable[[float], None] | None = None
    """Waits this many seconds with the emulator's lock let go, until a command's turn comes."""

    @property
    def now(self) -> float:
        """When the request's next command starts."""
        return self.start + self.spent

    def span(self, seconds: float) -> tuple[float, float]:
        """The next ``seconds`` of this request, as (start, finish) unix times."""
        begin = self.start + self.spent
        self.spent += seconds
        return begin, begin + seconds

    @property
    def finish(self) -> float:
        """When the request's server time ends."""
        return self.start + self.spent


class Emulator:
    """An offline Bitrix24 portal: webhook auth, methods, batch, limits, faults and a saved state."""

    def __init__(
        self,
        token: str = "emulator-token",
        user_id: int = 1,
        rate_limit: RateSpec = None,
        operating_limit: float | None = 480.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        latency_ms: float | None = None,
        fail_rate: float = 0.0,
        drop_rate: float = 0.0,
        seed: int = 0,
        state_path: str | Path | None = None,
        methods: Mapping[str, Handler] | None = None,
        store: Any = None,
        *,
        store_factory: StoreClass | None = None,
        operating_cost: float = 0.01,
        sleep: Callable[[float], None] = time.sleep,
        max_input_vars: int | None = None,
        scopes: Iterable[str] | str | None = None,
        profile: str | CostModel | None = None,
        costs: Mapping[str, float] | None = None,
        workers: int | None = None,
        operating_window: float = 600.0,
    ) -> None:
        if not token or any(char in token for char in "/?#% \t\r\n"):
            raise EmulatorError("the emulator token must be a non-empty string without /, ?, #, % or spaces")
        if (latency_ms is not None and latency_ms < 0) or operating_cost < 0:
            raise EmulatorError("latency and operating cost cannot be negative")
        if operating_limit is not None and operating_limit <= 0:
            raise EmulatorError("the operating limit must be positive (or None for no limit)")
        if operating_window < 10 or operating_window % 10:
            raise EmulatorError(
                "the operating window must be a positive multiple of 10 seconds (ten baskets)"
            )
        if workers is not None and workers < 1:
            raise EmulatorError("the number of workers must be at least 1")
        try:
            bucket = parse_rate_limit(rate_limit)
            self._faults = FaultPlan(fail_rate, drop_rate, seed)
            self.scopes = parse_scopes(scopes)
            model = _cost_model(profile, costs, workers)
        except ValueError as error:
            raise EmulatorError(str(error)) from error
        self.costs = model
        # protocol §7.2: a modelled portal charges each command's server time; without a model a
        # fixed operating_cost stands in for it, so that the limit can still be reached in tests
        self._modelled = model.modelled
        self._workers: AbstractContextManager[Any] = (
            threading.BoundedSemaphore(model.workers) if model.workers else nullcontext()
        )
        self.token = token
        self.user_id = user_id
        self._bucket_spec = bucket
        self._operating_limit = operating_limit
        self._operating_window = float(operating_window)
        self._clock = clock
        self._wall_clock = wall_clock
        self._latency = model.latency if latency_ms is None else latency_ms / 1000.0
        self._sleep = sleep
        self._operating_cost = operating_cost
        self._max_input_vars = max_input_vars
        self._lock = threading.RLock()
        self._methods = {
            name.lower(): handler
            for name, handler in (default_methods() if methods is None else methods).items()
        }
        self._store_factory = store_factory
        self.state_path = Path(state_path) if state_path is not None else None
        if store is not None:
            self.store: Any = store
        elif self.state_path is not None:
            self.store = load_store(self.state_path, self._store_class())
        else:
            self.store = self._store_class()()
        self._fresh_counters_and_limits()

    # --- the public surface ---

    @property
    def base_url(self) -> str:
        """The portal address the in-process adapter answers for."""
        return BASE_URL

    @property
    def webhook_url(self) -> str:
        """The webhook URL for the in-process adapter."""
        return f"{BASE_URL}/rest/{self.user_id}/{self.token}/"

    def adapter(self) -> requests.adapters.BaseAdapter:
        """A ``requests`` transport adapter that answers in-process."""
        from b24sync.emulator.adapter import EmulatorAdapter

        return EmulatorAdapter(self)

    def mount(self, session: requests.Session) -> requests.Session:
        """Mount the in-process adapter on ``session`` for ``base_url``; returns the session."""
        session.mount(self.base_url, self.adapter())
        return session

    @contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, tls: bool = False, tls_dir: str | Path | None = None
    ) -> Iterator[str]:
        """Run the real HTTP server in a thread; yields its webhook URL (``tls_dir`` keeps the CA)."""
        from b24sync.emulator.server import EmulatorServer

        server = EmulatorServer(self, host, port, tls, tls_dir)
        server.start()
        try:
            yield server.webhook_url
        finally:
            server.stop()

    def stats(self) -> dict[str, Any]:
        """Counters since start or the last reset, plus the store's own figures when it has them."""
        with self._lock:
            figures = self._counters.as_json()
            store_stats = getattr(self.store, "stats", None)
            if callable(store_stats):
                figures["store"] = store_stats()
            return figures

    def reset(self) -> None:
        """An empty store, zero counters, fresh limits and the fault sequence from its seed."""
        with self._lock:
            self.store = self._store_class()()
            self._fresh_counters_and_limits()
            self._faults.reset()

    def state_text(self) -> str:
        """The store as the JSON text of a state file (``--state``), for a caller that writes it."""
        with self._lock:
            return state_json(self.store)

    def save_state(self) -> None:
        """Write the store to ``state_path`` atomically."""
        if self.state_path is None:
            raise EmulatorError("no state path was given, so there is nowhere to save the state")
        with self._lock:
            save_store(self.state_path, self.store)

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one HTTP request (thread-safe: all processing of a request holds one lock).

        With a cost model the request first waits for one of the portal's workers, then runs each
        of its commands when its turn comes in the modelled server time, sleeping in between
        holding the worker but not the lock, so that concurrent requests are served in parallel up
        to the worker bound and each command finds the operating window as it is when it starts
        (a basket that expires while a batch runs frees room for its later commands).
        """
        path, _ = split_target(request.target)
        where = route(path)
        if where.kind == "control":
            return self._control(request.verb, where.method)
        with self._lock:
            fault = self._faults.next()
        if self._latency:
            self._sleep(self._latency)
        with self._workers:
            meter = (
                _Meter(self.costs, self._wall_clock(), self.costs.request, self._pause)
                if self._modelled
                else None
            )
            with self._lock:
                response = self._answer(request, where, fault, meter)
            if meter is not None and response.status != 503:
                wait = meter.finish - self._wall_clock()
                if wait > 0:
                    self._sleep(wait)
        return response

    def _pause(self, seconds: float) -> None:
        """Sleep with the lock let go (``handle`` holds it once), so other requests run meanwhile."""
        self._lock.release()
        try:
            self._sleep(seconds)
        finally:
            self._lock.acquire()

    def _answer(self, request: HttpRequest, where: Route, fault: Any, meter: _Meter | None) -> HttpResponse:
        self._counters.requests += 1
        if fault.status is not None:
            self._counters.faults += 1
            self._counters.by_status[str(fault.status)] += 1
            return HttpResponse(fault.status, fault.page(), "text/html; charset=utf-8")
        try:
            response = self._process(request, where, meter)
        except Exception:
            log.exception("the emulator failed to answer a request")
            response = json_response(500, INTERNAL)
        if meter is not None:
            self._counters.server_seconds += meter.spent
        if fault.drop:
            self._counters.dropped += 1
            return replace(response, drop=True)
        self._counters.by_status[str(response.status)] += 1
        return response

    # --- inside the lock ---

    def _store_class(self) -> StoreClass:
        if self._store_factory is None:
            self._store_factory = default_store_class()
        return self._store_factory

    def _fresh_counters_and_limits(self) -> None:
        self._counters = Counters()
        self._bucket = (
            LeakyBucket(*self._bucket_spec, clock=self._clock) if self._bucket_spec is not None else None
        )
        self._operating = (
            OperatingTime(self._operating_limit, self._wall_clock, self._operating_window)
            if self._operating_limit is not None
            else None
        )

    def _control(self, verb: str, name: str) -> HttpResponse:
        if name == "stats" and verb in ("GET", "HEAD"):
            return json_response(200, self.stats())
        if name == "reset" and verb == "POST":
            self.reset()
            return json_response(200, {"result": True})
        return error_response(
            404, "NOT_FOUND", "emulator controls: GET /_emulator/stats, POST /_emulator/reset"
        )

    def _process(self, request: HttpRequest, where: Route, meter: _Meter | None) -> HttpResponse:
        if where.kind == "unknown":
            return error_response(404, "NOT_FOUND", "not a REST path: use /rest/<user>/<token>/<method>")
        params = request_params(request)
        refused = self._authenticate(request, where, params)
        if refused is not None:
            return refused
        if self._bucket is not None and not self._bucket.admit():
            # protocol §7.1 and U2: refused before anything runs; a batch costs 1 like any request
            self._counters.refused["QUERY_LIMIT_EXCEEDED"] += 1
            return error_response(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        caller = f"{where.kind}:{where.user}"
        started = meter.start if meter is not None else self._wall_clock()
        if where.method == "batch":
            self._counters.by_method["batch"] += 1
            result = run_batch(
                params, lambda method, sub: self._call(caller, method, sub, meter)[0], self._max_input_vars
            )
            # protocol §7.2: the outer batch is not counted, its commands are
            return json_response(
                200, {"result": result, "time": self._request_time(started, meter, (caller, "batch"))}
            )
        outcome, status = self._call(caller, where.method, params, meter)
        if outcome.error is not None:
            return json_response(status, dict(outcome.error))
        body: dict[str, Any] = {"result": php_json_value(outcome.result)}
        # protocol §1.4: next/total move to the top level as ints
        if outcome.next is not None:
            body["next"] = int(outcome.next)
        if outcome.total is not None:
            body["total"] = int(outcome.total)
        # a single call's time block spans the whole request; its processing is the command's
        body["time"] = (
            outcome.time if meter is None else self._request_time(started, meter, (caller, where.method))
        )
        return json_response(200, body)

    def _authenticate(
        self, request: HttpRequest, where: Route, params: dict[str, Any]
    ) -> HttpResponse | None:
        if where.kind == "webhook":
            if not where.token:
                return error_response(401, "NO_AUTH_FOUND", "Wrong authorization data")
            if where.user != str(self.user_id) or where.token != self.token:
                return error_response(401, "INVALID_CREDENTIALS", "Invalid request credentials")
            return None
        # protocol §1.1: an OAuth-style call carries its token as auth, access_token or a Bearer header
        token = ""
        for key in [key for key in params if key.lower() in ("auth", "access_token")]:
            value = params.pop(key)
            token = value if isinstance(value, str) and not token else token
        bearer = request.header("Authorization")
        if not token and bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
        if not token:
            return error_response(401, "NO_AUTH_FOUND", "Wrong authorization data")
        if token != self.token:
            return error_response(401, "invalid_token", "The access token is invalid")
        return None

    def _call(
        self, caller: str, method: str, params: dict[str, Any], meter: _Meter | None = None
    ) -> tuple[Outcome, int]:
        handler = self._methods.get(method)
        if handler is None:
            return Outcome(error=NOT_FOUND), 404
        if not allows(method, self.scopes):
            # protocol §6.2; inside a batch this becomes the command's result_error entry
            return Outcome(error=INSUFFICIENT_SCOPE), INSUFFICIENT_SCOPE_STATUS
        key = (caller, method)
        begins: float | None = None
        if meter is not None:
            # protocol §7.2: a command finds the window as it is when it starts on the portal
            begins = meter.now
            wait = begins - self._wall_clock()
            if wait > 0 and meter.pause is not None:
                meter.pause(wait)
        if self._operating is not None and self._operating.blocked(key, begins):
            # protocol §7.2: blocked until the window frees up; the crossing call itself completed
            self._counters.refused["OPERATION_TIME_LIMIT"] += 1
            return Outcome(error=OPERATION_TIME_LIMIT), 429
        started = self._wall_clock()
        self._counters.commands += 1
        self._counters.by_method[method] += 1
        context = Context(
            store=self.store, user_id=self.user_id, now=self._wall_clock, extra={"scopes": self.scopes}
        )
        reply = None
        try:
            reply = handler(context, params)
        except MethodError as error:
            return Outcome(
                error={"error": error.code, "error_description": error.description, **error.extra}
            ), error.status
        except Exception:
            log.exception("emulator method %s raised", method)
            return Outcome(error=INTERNAL), 500
        finally:
            # a failed command spent its class's time too; a modelled one is charged what it spent
            seconds = (
                meter.model.command(method, reply.result if reply else None, reply.total if reply else None)
                if meter is not None
                else self._operating_cost
            )
            if meter is not None:
                started, finish = meter.span(seconds)
            if self._operating is not None:
                # a modelled command is charged when its server time ends, as a portal measures it
                self._operating.charge(key, seconds, finish if meter is not None else None)
        if meter is None:
            finish = self._wall_clock()
        return Outcome(
            result=reply.result, total=reply.total, next=reply.next, time=self._time(started, finish, key)
        ), 200

    def _request_time(self, started: float, meter: _Meter | None, key: tuple[str, str]) -> dict[str, Any]:
        """The time block of a whole request: its commands' server time plus the request's own."""
        if meter is None:
            return self._time(started, self._wall_clock(), key)
        return self._time(started, meter.finish, key, processing=meter.spent - meter.model.request)

    def _time(
        self, started: float, finish: float, key: tuple[str, str], processing: float | None = None
    ) -> dict[str, Any]:
        # protocol §1.4: date_* carry the portal's offset; a store that knows its zone formats them
        store_iso = getattr(self.store, "iso", None)
        iso: Callable[[float], str] = store_iso if callable(store_iso) else iso_time
        block: dict[str, Any] = {
            "start": started,
            "finish": finish,
            "duration": finish - started,
            "processing": finish - started if processing is None else processing,
            "date_start": iso(started),
            "date_finish": iso(finish),
        }
        if self._operating is not None:
            state = self._operating.state(key, finish)
            block["operating_reset_at"] = state.reset_at
            block["operating"] = state.operating
        return block


def _cost_model(
    chosen: str | CostModel | None, costs: Mapping[str, float] | None, workers: int | None
) -> CostModel:
    """The model the options name: a profile (``instant`` when none), some costs replaced, workers."""
    model = INSTANT if chosen is None else profile(chosen) if isinstance(chosen, str) else chosen
    if costs:
        model = model.with_costs(costs)
    if workers is not None:
        model = replace(model, workers=workers)
    return model
