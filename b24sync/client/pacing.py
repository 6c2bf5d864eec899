"""Send times planned from each method's operating budget (protocol §7.2, §7.4).

The portal sums every method's server time over ten baskets of one minute each and blocks a method
once its window holds the limit: the command that crosses the limit completes, the next one is
refused with ``OPERATION_TIME_LIMIT``, inside a batch as much as alone. Waiting for that refusal and
then for ``operating_reset_at`` loses the rest of the batch to a retry and a wait, and a batch whose
commands cost more than the last few seconds of the budget walks into it every time.

So the client keeps a ledger per method: every command's server time (``processing`` of its
``time`` block, which the portal charges) with the moment its basket expires, reconciled with the
portal's own figures (``operating``, ``operating_reset_at``) every answer carries. Before a request
it asks: with the commands this request holds, each costing what the method's commands cost
lately, does the window stay under the limit less a margin until the last of them starts (the
command that crosses the limit completes)? If not, the request waits until enough
of the ledger has expired. Time the portal counts that the ledger does not explain (an earlier run
with the same webhook, reads charged differently) is spread over the baskets between the oldest
one, which expires at ``operating_reset_at``, and the current one, the shape a steady run leaves.

Times are the portal's unix times, compared with ``wall_clock`` as protocol §7.4 does for
``operating_reset_at``; a ``finish`` that is more than a window away from the client's clock is not
trusted, and the client's own clock stands in for it.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from b24sync.bitrix.limits import OPERATING_LIMIT, OPERATING_WINDOW, REQUEST_DEADLINE

BASKETS = 10
"""protocol §7.2: the window is ten baskets."""
SAFETY = 1.0
"""Seconds added to every expiry: ``operating_reset_at`` is whole seconds, and §7.4 says reset + 1 s."""
RECENT = 50
"""Commands of a method whose server time predicts the next ones (the largest of them is used)."""
PACING_MARGIN = 1.0
"""Seconds of the budget left unplanned, for commands that cost more than the recent ones did."""
UNKNOWN_SECONDS = 0.5
"""Server seconds a record of a method never answered is taken to cost at most: a write takes tens to
hundreds of milliseconds on a cloud portal (issue 17; docs/emulator.md), an imported record as much.
So 10 requests of 50 adds (250 s) go out at once under the 480-s budget, and 8 of 42 imports (60 s
each, the ``REQUEST_DEADLINE``)."""
_RECORDS = {"crm.item.batchimport": 20}
"""Records one command of a method carries at most (protocol §9.8b: 20 a ``crm.item.batchImport``)."""
POLL = 0.25
"""Seconds between looks at the requests in flight while a request waits for one of their answers."""
_EPSILON = 1e-6
_NUMBERS = (int, float)
"""The types a JSON number decodes to (``type(x) in``: not ``bool``, which is an ``int``)."""
_ANSWERED = 1.0
"""Seconds after a request in flight may have charged all it will by which its answer is looked for."""


@dataclass
class _Ledger:
    """One method: its charges by the moment they expire, its recent per-command costs, a 429 block.

    Every expiry is the end of a basket (+ ``SAFETY``) or ``operating_reset_at`` (+ ``SAFETY``) plus
    whole baskets, so a ledger holds a few tens of entries however many commands it has seen: each
    charge is added to its basket's total.
    """

    charges: dict[float, float] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    blocked_until: float = 0.0
    reset_at: float | None = None

    def expire(self, now: float) -> None:
        for expires in [e for e in self.charges if e <= now]:
            del self.charges[expires]

    def live(self) -> float:
        return sum(self.charges.values())

    def add(self, expires: float, seconds: float) -> None:
        if seconds > 0:
            self.charges[expires] = self.charges.get(expires, 0.0) + seconds

    def oldest_first(self) -> list[tuple[float, float]]:
        return sorted(self.charges.items())

    def per_command(self) -> float:
        return max(self.recent, default=0.0)


class OperatingBudget:
    """The operating time of each method, as the portal counts it, and when the next call fits."""

    def __init__(
        self,
        wall_clock: Callable[[], float],
        limit: float = OPERATING_LIMIT,
        window: float = OPERATING_WINDOW,
    ) -> None:
        self.limit = limit
        self.window = window
        # protocol §7.4 pauses a method 5 s before its limit, for a client that cannot tell what
        # its next request costs; this one can (the largest recent command, times the commands),
        # so one second of margin is enough, and a hundredth of a small limit (a test portal)
        self.margin = min(PACING_MARGIN, limit / 100)
        self._basket = window / BASKETS
        self._wall_clock = wall_clock
        self._ledgers: dict[str, _Ledger] = {}
        self._in_flight: dict[int, dict[str, int]] = {}
        """Commands per method of the requests other threads have sent and not yet observed: with
        parallel requests (``apply --parallel``) their cost is in no answer yet, so it is planned for."""
        self._sent_at: dict[int, float] = {}
        """When each request in flight went out (``wall_clock``): by a moment ``t`` it has charged at
        most ``t - sent``, since a batch's commands run one after another on the server."""
        self._waiting: dict[int, dict[str, int]] = {}
        """Commands per method of the requests waiting to go (``waiting``): a request due to straddle
        a basket's expiry may go with them (``_straddle``)."""
        self.finishing = False
        """Set by the run when the requests waiting (and in flight) are its last: then a request that
        waits for room goes with the others waiting when going first would hold them back
        (``delay``), since the run ends with the last of them."""
        self._held_at: float | None = None
        """When a request last had to wait for a method's budget (``wall_clock``): the run is bound by
        the operating limit while that is less than a window ago (``budget_bound``)."""
        self._sent = 0
        """Requests sent so far; ``_sent_as`` gives each thread's request in flight its number."""
        self._sent_as: dict[int, int] = {}
        self._lock = threading.RLock()

    def _ledger(self, method: str) -> _Ledger:
        return self._ledgers.setdefault(method.lower(), _Ledger())

    def _expiry(self, at: float) -> float:
        """When a charge made at ``at`` leaves the window: the end of its basket's ten."""
        return (math.floor(at / self._basket) + BASKETS) * self._basket + SAFETY

    def observe(self, method: str, time_block: Mapping[str, Any] | None) -> None:
        """Record one command's (or one call's) ``time`` block: its cost and the portal's figures."""
        if not isinstance(time_block, Mapping):
            return
        with self._lock:
            self._observe(method, time_block)

    def observe_batch(self, blocks: Iterable[tuple[str, Any]]) -> None:
        """Record the ``time`` blocks of one batch's commands, given as (method, block) in the order
        the portal ran them.

        Each command's cost is charged to the basket it finished in; the ledger is reconciled once
        per method, with the figures of its last command, which count every command before it.
        Reconciling after every command came to the same totals at a quarter of a batch's CPU
        (5,000 adds: 0.6 of 2.3 s under the profiler).
        """
        with self._lock:
            now = self._wall_clock()
            charged: dict[str, tuple[_Ledger, dict[float, float]]] = {}
            last: dict[str, Mapping[str, Any]] = {}
            for method, block in blocks:
                if not isinstance(block, Mapping):
                    continue
                entry = charged.get(method)
                if entry is None:
                    entry = charged[method] = (self._ledger(method), {})
                processing: Any = block.get("processing")
                if type(processing) in _NUMBERS and processing >= 0:
                    finish: Any = block.get("finish")
                    at = finish if type(finish) in _NUMBERS and abs(finish - now) <= self.window else now
                    entry[0].recent.append(float(processing))
                    expires = self._expiry(at)
                    entry[1][expires] = entry[1].get(expires, 0.0) + processing
                if "operating" in block:
                    last[method] = block
            for ledger, charges in charged.values():
                for expires, seconds in charges.items():
                    ledger.add(expires, seconds)
            for method, block in last.items():
                self._figures(method, charged[method][0], block, now)

    def waiting(self, demand: Mapping[str, int] | None) -> None:
        """This thread's request with ``demand`` waits to go (None: it went, or will not)."""
        with self._lock:
            if demand is None:
                self._waiting.pop(threading.get_ident(), None)
            else:
                self._waiting[threading.get_ident()] = dict(demand)

    def sending(self, demand: Mapping[str, int]) -> None:
        """This thread's request is going out now with ``demand``: others plan for it until ``answered``."""
        with self._lock:
            me = threading.get_ident()
            self._waiting.pop(me, None)
            self._in_flight[me] = dict(demand)
            self._sent_at[me] = self._wall_clock()
            self._sent += 1
            self._sent_as[me] = self._sent

    def answered(self) -> None:
        """This thread's request was answered and its ``time`` blocks observed (or it failed)."""
        with self._lock:
            self._in_flight.pop(threading.get_ident(), None)
            self._sent_at.pop(threading.get_ident(), None)
            self._sent_as.pop(threading.get_ident(), None)

    def _observe(self, method: str, time_block: Mapping[str, Any]) -> None:
        now = self._wall_clock()
        ledger = self._ledger(method)
        self._charge(ledger, time_block, now)
        self._figures(method, ledger, time_block, now)

    def _charge(self, ledger: _Ledger, time_block: Mapping[str, Any], now: float) -> None:
        """One command's server time, charged to the basket it finished in."""
        processing = _number(time_block.get("processing"))
        finish = _number(time_block.get("finish"))
        at = finish if finish is not None and abs(finish - now) <= self.window else now
        if processing is not None and processing >= 0:
            ledger.recent.append(processing)
            ledger.add(self._expiry(at), processing)

    def _figures(self, method: str, ledger: _Ledger, time_block: Mapping[str, Any], now: float) -> None:
        """The portal's own count (``operating``, ``operating_reset_at``), when the block has it."""
        operating = _number(time_block.get("operating"))
        reset_at = _number(time_block.get("operating_reset_at"))
        if operating is not None and reset_at is not None:
            ledger.reset_at = reset_at
            self._reconcile(method, ledger, operating, reset_at, now)

    def _reconcile(self, method: str, ledger: _Ledger, operating: float, reset_at: float, now: float) -> None:
        """Make the ledger agree with the portal's ``operating``, expiring no later than it says."""
        ledger.expire(now)
        oldest = reset_at + SAFETY
        for expires, seconds in ledger.oldest_first():  # the portal's oldest basket expires at reset_at
            if expires >= oldest:
                break
            del ledger.charges[expires]
            ledger.add(oldest, seconds)
        ours = ledger.live()
        # the portal may count commands of requests still in flight in other threads already; those
        # are planned for in full until their own answers place them, so they are not spread here
        me = threading.get_ident()
        flying = sum(other.get(method, 0) for thread, other in self._in_flight.items() if thread != me)
        unexplained = operating - ours - flying * ledger.per_command()
        if unexplained > _EPSILON:
            self._spread(ledger, unexplained, oldest, self._expiry(now))
        elif operating < ours - _EPSILON and self._sent_as.get(me, self._sent) == self._sent:
            # the portal counts less: what it no longer counts is the oldest (or was never charged).
            # Not when a request was sent after this one: the figure dates from this request's
            # commands, and the ledger may already hold that later request's (answered first), which
            # taken off the oldest basket made the ledger count less than the portal (a 429 in 10,000
            # adds at --parallel 10)
            excess = ours - operating
            for expires, seconds in ledger.oldest_first():
                if excess <= _EPSILON:
                    break
                taken = min(seconds, excess)
                excess -= taken
                if seconds - taken <= _EPSILON:
                    del ledger.charges[expires]
                else:
                    ledger.charges[expires] = seconds - taken

    def _spread(self, ledger: _Ledger, seconds: float, oldest: float, newest: float) -> None:
        """Time the ledger cannot place: evenly over the baskets from the oldest to the current one."""
        count = max(1, min(BASKETS, round((newest - oldest) / self._basket) + 1))
        for index in range(count):
            ledger.add(oldest + index * self._basket, seconds / count)

    def reset_at(self, method: str) -> float | None:
        """When the oldest basket of ``method`` expires, as last reported; None if never seen."""
        with self._lock:
            ledger = self._ledgers.get(method.lower())
            return ledger.reset_at if ledger is not None else None

    def block(self, method: str, reset_at: float | None, unknown_wait: float = 10.0) -> float:
        """A 429: block ``method`` until ``reset_at`` + 1 s (protocol §7.4); return the seconds to wait."""
        with self._lock:
            return self._block(method, reset_at, unknown_wait)

    def _block(self, method: str, reset_at: float | None, unknown_wait: float) -> float:
        now = self._wall_clock()
        until = now + unknown_wait if reset_at is None else max(reset_at + SAFETY, now + unknown_wait)
        # the oldest basket expires within one window: a later reset time from the portal is wrong
        until = min(until, now + self.window + SAFETY)
        ledger = self._ledger(method)
        ledger.blocked_until = max(ledger.blocked_until, until)
        return ledger.blocked_until - now

    def delay(self, demand: Mapping[str, int] | Iterable[str]) -> float:
        """Seconds to wait before a request with ``demand`` (commands per method) may be sent.

        Ask again after waiting: an answer that arrived in the meantime may change it.
        """
        counts = demand if isinstance(demand, Mapping) else dict.fromkeys(demand, 1)
        with self._lock:
            now = self._wall_clock()
            me = threading.get_ident()
            waits = [0.0]
            for method, commands in counts.items():
                ledger = self._ledgers.get(method.lower())
                if ledger is None or not ledger.recent:
                    # what this method's commands cost is in no answer yet: each request of it in
                    # flight is taken at its worst (``_unknown_cost``), so before the first answer
                    # no more go out than fit the limit (the command that reaches the limit
                    # completes: no margin); the first one always goes
                    others = [
                        other[method]
                        for thread, other in self._in_flight.items()
                        if thread != me and other.get(method)
                    ]
                    cost = sum(_unknown_cost(method, n) for n in others) + _unknown_cost(method, commands)
                    if others and cost > self.limit + _EPSILON:
                        waits.append(POLL)
                if ledger is not None:
                    waits.append(ledger.blocked_until - now)
                    # the command that crosses the limit still completes (protocol §7.2): only the
                    # commands before the last one must find the window below it; those of requests
                    # still in flight in other threads are charged in full
                    flying = sum(
                        other.get(method, 0) for thread, other in self._in_flight.items() if thread != me
                    )
                    per = ledger.per_command()
                    cost = (flying + max(0, commands - 1)) * per
                    at = self._fits_after(ledger, cost, now)
                    if at > now + _EPSILON and per > 0:
                        self._held_at = now
                        # no room now: maybe the request can go before a basket expires, and straddle it
                        at = self._when(ledger, method, commands, per, now, me, at)
                    waits.append(at - now)
            return max(waits)

    def budget_bound(self) -> bool:
        """Whether a request waited for an operating budget within the last window: the budget, not
        the rate limit, then says when requests go, and every refill is best used at once."""
        with self._lock:
            return self._held_at is not None and self._wall_clock() - self._held_at < self.window

    def _when(
        self, ledger: _Ledger, method: str, commands: int, per: float, now: float, me: int, latest: float
    ) -> float:
        """When a request that finds no room now goes: alone, as early as it can straddle an expiry
        (``_straddle``), or with the other requests waiting for ``method`` where they all fit
        together sooner. At the end of a run (``finishing``), with them also when going alone
        first would make them start later than all of them together could: the run ends with the
        last one (the last four requests of a 10,000-record import)."""
        flying = [
            (self._sent_at.get(thread, now), other.get(method, 0) * per)
            for thread, other in self._in_flight.items()
            if thread != me and other.get(method)
        ]
        group = [
            other[method] * per
            for thread, other in self._waiting.items()
            if thread != me and other.get(method)
        ]
        own = commands * per
        at = self._straddle(ledger, [own], per, flying, now, latest)
        if group:
            together = self._straddle(ledger, [own, *group], per, flying, now, math.inf)
            if together <= at or not self.finishing:
                at = min(at, together)
            else:
                # the others, with this request in flight from ``at`` on
                after = self._straddle(ledger, group, per, [*flying, (at, own)], at, math.inf)
                at = at if after <= together + _EPSILON else together
        if flying and at > now + _EPSILON:
            # ask again once the requests in flight may have been answered: their time blocks place
            # their charges (in the baskets they were made in), which this plan could only bound
            at = min(at, max(now, min(sent + cost for sent, cost in flying)) + _ANSWERED)
        return at

    def _fits_after(self, ledger: _Ledger, cost: float, now: float) -> float:
        """The first moment the window holds ``cost`` more and stays below the limit less the margin.

        A request that alone costs more than the whole budget goes once the window is empty: its
        commands after the crossing one will be refused, which the caller cannot avoid by waiting.
        """
        ledger.expire(now)
        room = self.limit - self.margin
        live = ledger.live()
        at = now
        for expires, seconds in ledger.oldest_first():
            if live + cost <= room + _EPSILON:
                return at
            live -= seconds
            at = expires
        return at

    def _straddle(
        self,
        ledger: _Ledger,
        costs: list[float],
        per: float,
        flying: list[tuple[float, float]],
        now: float,
        latest: float,
    ) -> float:
        """The first moment from ``now``, before ``latest``, that requests of these full ``costs``
        (the first is the one asking) may go out together and find, at the start of each of the
        first one's commands, the window below the limit less the margin, counting the baskets that
        expire meanwhile; ``latest`` if none (``math.inf``: they never fit together). ``flying``:
        the requests in flight, (sent, full cost).

        Each request, in flight or about to go, charges at most the seconds it has been on the wire
        (its commands run one after another) and at most its full cost. So a request may go before
        a basket expires by as much of the remaining room as it spends until then. At the end
        (the first request's last command, by the method's recent cost per command) everything
        counts in full: commands slower than that start later, when the others may have charged
        all they will.
        """
        horizon = max([costs[0] - per, *costs[1:]])  # until the last of their commands starts
        room = self.limit - self.margin
        charges = ledger.oldest_first()
        # what the requests in flight have charged by now is in this basket or earlier ones: gone
        # once this basket expires; what they charge from now on stays in the window meanwhile
        gone = self._expiry(now)
        made = [min(cost, max(0.0, now - sent)) for sent, cost in flying]
        rest = [cost - done for (_, cost), done in zip(flying, made, strict=True)]

        def live(at: float, inclusive: bool) -> float:
            """The ledger's charges still in the window at ``at`` (``inclusive``: just before it)."""
            return sum(s for e, s in charges if e > at or (inclusive and e >= at))

        def flown(at: float, inclusive: bool, whole: bool = False) -> float:
            """What the requests in flight charge that is in the window at ``at`` (``whole``: all of it)."""
            earlier = sum(made) if at < gone or (inclusive and at <= gone) else 0.0
            return earlier + sum(r if whole else min(r, max(0.0, at - now)) for r in rest)

        def charged(at: float, start: float) -> float:
            return sum(min(cost, max(0.0, at - start)) for cost in costs) + flown(at, True)

        def fits(start: float) -> bool:
            end = start + horizon
            points = [(start, False)] + [(e, True) for e, _ in charges if start < e <= end]
            everything = sum(costs) - per + flown(end, True, whole=True)
            return live(end, True) + everything <= room + _EPSILON and all(
                live(at, inclusive) + charged(at, start) <= room + _EPSILON for at, inclusive in points
            )

        candidates = {now}
        for expires in [e for e, _ in charges] + [gone]:
            candidates.update((expires, expires - horizon))
            # the start at which the room just before this expiry is filled exactly
            left = room - live(expires, True) - flown(expires, True)
            if left >= 0 and (longest := _longest(costs, left)) < math.inf:
                candidates.add(expires - longest)
        for start in sorted(c for c in candidates if now <= c < latest):
            if fits(start):
                return start
        return latest


def _longest(costs: list[float], room: float) -> float:
    """The longest time ``u`` for which requests charging ``min(cost, u)`` each charge at most ``room``
    in all (``math.inf`` when their full costs fit)."""
    u = spent = 0.0
    for index, cost in enumerate(sorted(costs)):
        running = len(costs) - index  # the requests still charging: those of this cost or more
        if cost > u:
            if spent + (cost - u) * running >= room:
                return u + (room - spent) / running
            spent += (cost - u) * running
            u = cost
    return math.inf


def _unknown_cost(method: str, commands: int) -> float:
    """The most a request of ``commands`` of a method never answered may charge: ``UNKNOWN_SECONDS``
    per record, and never more than the ``REQUEST_DEADLINE`` the request may run."""
    records = commands * _RECORDS.get(method.lower(), 1)
    return min(REQUEST_DEADLINE, records * UNKNOWN_SECONDS)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
