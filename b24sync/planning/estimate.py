"""How long a plan takes to send at the portal's request limits, before anything is sent. Pure.

protocol §7.1: every request (a batch costs 1, however many commands it holds) fills a leaky bucket
that drains by ``rate`` per second; past ``burst`` the portal refuses. The client keeps one request
of headroom below the burst (``client.ratelimit.LeakyBucket``), so the first ``burst - 1`` requests
go at once and each later one waits ``1 / rate`` seconds. The estimate is of that wait: the portal's
own time per command and its operating-time limit per method (protocol §7.2) come on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from b24sync.bitrix.limits import ENTERPRISE_RATE, STANDARD_RATE
from b24sync.client.ratelimit import LeakyBucket
from b24sync.planning.model import Plan

LIMITS: tuple[tuple[str, tuple[float, float]], ...] = (
    ("standard", STANDARD_RATE),
    ("enterprise", ENTERPRISE_RATE),
)
"""The request limits an estimate is given for: every plan but Enterprise, and Enterprise."""


@dataclass(frozen=True)
class AtLimit:
    """The time a plan's requests take at one request limit."""

    name: str
    burst: float
    rate: float
    seconds: float


@dataclass(frozen=True)
class Estimate:
    """What ``apply`` of a plan would send, and how long its requests take at each limit."""

    commands: int
    requests: int
    limits: tuple[AtLimit, ...]


def request_seconds(requests: int, burst: float, rate: float) -> float:
    """Seconds from the first to the last of ``requests`` sent as fast as the leaky bucket allows."""
    ceiling = max(1.0, burst - LeakyBucket.HEADROOM)
    return max(0.0, requests - ceiling) / rate


def estimate(plan: Plan) -> Estimate:
    """The requests of ``plan`` (one per batch) and their time at the standard and enterprise limits."""
    return counted(sum(len(batch.commands) for batch in plan.batches), len(plan.batches))


def counted(commands: int, requests: int) -> Estimate:
    """The estimate of ``requests`` requests carrying ``commands`` commands (a streamed plan's counts)."""
    limits = tuple(
        AtLimit(name, burst, rate, request_seconds(requests, burst, rate)) for name, (burst, rate) in LIMITS
    )
    return Estimate(commands, requests, limits)


def duration_text(seconds: float) -> str:
    """``0 s``, ``25 s``, ``16 min 40 s``, ``2 h 5 min``: rounded up to the second."""
    whole = int(-(-seconds // 1))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def render_estimate(result: Estimate) -> str:
    """The estimate for people: requests, then the time at each limit."""
    lines = [
        f"{result.commands:,} command{'' if result.commands == 1 else 's'} in "
        f"{result.requests:,} request{'' if result.requests == 1 else 's'}"
    ]
    width = max(len(limit.name) for limit in result.limits)
    for limit in result.limits:
        lines.append(
            f"  {limit.name.ljust(width)}  {duration_text(limit.seconds):>12}  "
            f"(burst {limit.burst:g}, {limit.rate:g} requests/s)"
        )
    lines.append(
        "  request limits only: the portal's time per command and its operating-time limit come on top"
    )
    return "\n".join(lines) + "\n"


def estimate_json(result: Estimate) -> dict[str, object]:
    """The estimate as JSON data, for ``plan --estimate --format json``."""
    return {
        "commands": result.commands,
        "requests": result.requests,
        "seconds": {limit.name: round(limit.seconds, 1) for limit in result.limits},
    }
