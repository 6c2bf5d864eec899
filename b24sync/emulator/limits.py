"""The portal's two limits: a leaky bucket of requests and operating time per method (protocol §7)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

PLANS: dict[str, tuple[float, float]] = {"standard": (50.0, 2.0), "enterprise": (250.0, 5.0)}
"""protocol §7.1: (burst X, drain Y per second) by plan."""
WINDOW_BASKETS = 10
BASKET_SECONDS = 60.0
"""protocol §7.2: ten one-minute baskets make the ten-minute window."""
WINDOW_SECONDS = WINDOW_BASKETS * BASKET_SECONDS

RateSpec = str | tuple[float, float] | None


def parse_rate_limit(spec: RateSpec) -> tuple[float, float] | None:
    """``None``/``"off"``, ``"standard"``, ``"enterprise"``, ``"BURST/RATE"`` or a (burst, rate) pair."""
    if spec is None:
        return None
    if isinstance(spec, tuple):
        burst, rate = (float(part) for part in spec)
    else:
        text = spec.strip().lower()
        if text == "off":
            return None
        if text in PLANS:
            return PLANS[text]
        match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)/([0-9]+(?:\.[0-9]+)?)", text)
        if match is None:
            raise ValueError(
                f"rate limit {spec!r} is not standard, enterprise, off or BURST/RATE (for example 50/2)"
            )
        burst, rate = float(match.group(1)), float(match.group(2))
    if burst < 1 or rate <= 0:
        raise ValueError(f"rate limit {spec!r} needs a burst of at least 1 and a positive rate")
    return burst, rate


@dataclass
class LeakyBucket:
    """Each request adds 1; the level drains by ``rate`` per second; above ``burst`` it is refused."""

    burst: float
    rate: float
    clock: Callable[[], float]
    level: float = 0.0
    last: float | None = None

    def admit(self) -> bool:
        """Count one request; False when the bucket is full (the request is refused, not counted)."""
        now = self.clock()
        if self.last is not None:
            self.level = max(0.0, self.level - (now - self.last) * self.rate)
        self.last = now
        if self.level + 1 > self.burst:
            return False
        self.level += 1
        return True


@dataclass
class OperatingState:
    """A method's used seconds in the window and the unix time when its oldest basket expires."""

    operating: float
    reset_at: int


@dataclass
class OperatingTime:
    """Seconds spent per (webhook, method) over ten one-minute baskets (protocol §7.2).

    A command is charged when it ends, to the basket of that moment, as a portal measures it. The
    emulator books a command's charge as it starts running (its end is known from the cost model),
    so a charge whose end is still ahead is held apart and counts only from then on: a command of
    another request that is still running is not yet in the window, and a basket that expires while
    a batch runs frees its room for the batch's later commands, as on a portal.

    ``window`` shrinks the ten minutes (to ten baskets of ``window / 10`` seconds each) for
    benchmarks that must reach the limit and its reset in less time than a portal takes; a portal's
    window is always ten minutes.
    """

    limit: float
    clock: Callable[[], float]
    window: float = WINDOW_SECONDS
    baskets: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    ahead: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    """Per method, the charges whose commands end later than now: (end, seconds)."""

    @property
    def basket(self) -> float:
        """Seconds of one basket."""
        return self.window / WINDOW_BASKETS

    def _settle(self, key: tuple[str, str]) -> dict[int, float]:
        """The method's baskets now: the charges that have ended are in, the expired baskets out."""
        now = self.clock()
        baskets = self.baskets.setdefault(key, {})
        pending = self.ahead.get(key)
        if pending:
            keep = []
            for end, seconds in pending:
                if end <= now:
                    minute = int(end // self.basket)
                    baskets[minute] = baskets.get(minute, 0.0) + seconds
                else:
                    keep.append((end, seconds))
            pending[:] = keep
        current = int(now // self.basket)
        for minute in [m for m in baskets if m <= current - WINDOW_BASKETS]:
            del baskets[minute]
        return baskets

    def state(self, key: tuple[str, str], at: float | None = None) -> OperatingState:
        """Where a method stands at ``at`` (now by default; a moment a little ahead of now counts
        the charges known to end by then)."""
        baskets = self._settle(key)
        at = self.clock() if at is None else at
        first = int(at // self.basket) - WINDOW_BASKETS + 1
        live = {minute: seconds for minute, seconds in baskets.items() if minute >= first}
        for end, seconds in self.ahead.get(key, ()):
            if end <= at:
                minute = int(end // self.basket)
                live[minute] = live.get(minute, 0.0) + seconds
        if not live:
            return OperatingState(0.0, int(at + self.window))
        oldest = min(live)
        return OperatingState(sum(live.values()), int((oldest + WINDOW_BASKETS) * self.basket))

    def blocked(self, key: tuple[str, str], at: float | None = None) -> bool:
        """True once the window holds the limit at ``at`` (now by default): the call that crossed it
        completed, the next is refused."""
        return self.state(key, at).operating >= self.limit

    def charge(self, key: tuple[str, str], seconds: float, at: float | None = None) -> None:
        """Add a call's (simulated) execution time to the basket of ``at``, when it ends (now by
        default); a charge ending later than now counts from then on."""
        baskets = self._settle(key)
        now = self.clock()
        end = now if at is None else at
        if end > now:
            self.ahead.setdefault(key, []).append((end, seconds))
            return
        minute = int(end // self.basket)
        baskets[minute] = baskets.get(minute, 0.0) + seconds
