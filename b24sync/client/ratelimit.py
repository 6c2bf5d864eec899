"""Client-side limits: the portal's leaky bucket (the operating budget is in ``client.pacing``).

Protocol §7.1: every HTTP request adds 1 to a counter that drains by ``rate`` per second; a request
arriving while the counter is above ``burst`` is refused with 503 ``QUERY_LIMIT_EXCEEDED``. Keeping
the same counter on the client lets a run go at the highest rate the portal accepts without ever
being refused. Protocol §7.2: execution time is summed per method over ten minutes; the portal
reports it as ``operating`` / ``operating_reset_at`` and blocks a method past the limit.

Clocks are parameters: ``clock`` is monotonic seconds, ``wall_clock`` is unix time (the portal's
``operating_reset_at`` is unix time).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from b24sync.bitrix.limits import ENTERPRISE_RATE, STANDARD_RATE
from b24sync.errors import UsageError


@dataclass(frozen=True)
class RateLimit:
    """A leaky bucket: ``burst`` requests at once, then ``rate`` per second."""

    burst: float
    rate: float

    @classmethod
    def parse(cls, spec: str | RateLimit | None) -> RateLimit | None:
        """``standard``, ``enterprise``, ``off`` or ``BURST/RATE`` (e.g. ``50/2``)."""
        if spec is None or isinstance(spec, RateLimit):
            return spec
        named = {"standard": cls(*STANDARD_RATE), "enterprise": cls(*ENTERPRISE_RATE), "off": None}
        if spec in named:
            return named[spec]
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*", spec)
        if match is None or float(match[1]) < 1 or float(match[2]) <= 0:
            raise UsageError(
                f"rate limit {spec!r} is not one of standard, enterprise, off or BURST/RATE such as 50/2"
            )
        return cls(float(match[1]), float(match[2]))


class LeakyBucket:
    """The portal's request counter, mirrored on the client.

    The client keeps one request of headroom below the portal's burst: requests reach the portal
    a varying moment after they leave, so two of them can arrive closer together than they were
    sent, and a bucket filled to the brim would then be refused.
    """

    HEADROOM = 1.0

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._level = 0.0
        self._at = clock()
        self._lock = threading.Lock()

    def _drain(self) -> float:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._at) * self.limit.rate)
        self._at = now
        return now

    def delay(self) -> float:
        """Seconds to wait before the next request may be sent."""
        with self._lock:
            return self._delay()

    def _delay(self) -> float:
        self._drain()
        ceiling = max(1.0, self.limit.burst - self.HEADROOM)
        return max(0.0, (self._level + 1 - ceiling) / self.limit.rate)

    def take(self) -> None:
        """Count one request as sent now."""
        with self._lock:
            self._drain()
            self._level += 1

    def fill(self) -> None:
        """The portal said the bucket is full: assume it, so the next requests wait."""
        with self._lock:
            self._drain()
            self._level = max(self._level, self.limit.burst)
