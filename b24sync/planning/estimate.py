"""How long a plan takes to send at the portal's request limits, before anything is sent. Pure.

protocol §7.1: every request (a batch costs 1, however many commands it holds) fills a leaky bucket
that drains by ``rate`` per second; past ``burst`` the portal refuses. The client keeps one request
of headroom below the burst (``client.ratelimit.LeakyBucket``), so the first ``burst - 1`` requests
go at once and each later one waits ``1 / rate`` seconds. The estimate is of that wait: the portal's
own time per command and its operating-time limit per method (protocol §7.2) come on top of it.

``on_portal`` adds those on a model of a portal's server time (``PortalTime``: seconds per command
by method, per request, its workers and its operating budget): the run takes at least the longest of
the request limit's time, the server time over the workers, and, for each method, the time its
operating budget lets that method's server time through. A budget of ``limit`` seconds per method
counts each charge for a ``window`` of ten baskets, so a method that needs ``n`` budgets spends
``n - 1`` windows less one basket on them (``tests/bench/compare.py``'s bound, without the time
of the commands left after the last refill, which depends on how requests are cut).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
class PortalTime:
    """A model of a portal's server time to estimate a run on, in seconds."""

    name: str
    command: Callable[[str], float]
    """Server time of one command of a (lower-case) method; of one record of an import."""
    request: float
    """Server time of every HTTP request besides its commands."""
    workers: int
    """Requests the portal serves at once."""
    limit: float
    """Operating seconds per method per ``window`` (protocol §7.2)."""
    window: float


@dataclass(frozen=True)
class OnPortal:
    """How long a plan takes at least on a ``PortalTime``, and what binds it."""

    name: str
    seconds: float
    server: float
    """Server time of every command and request, over the workers."""
    operating: float
    """The longest any method's operating budget holds the run (0 when every method fits one)."""
    method: str | None
    """That method."""
    binds: str
    """What sets ``seconds``: ``requests``, ``server`` or ``operating``."""


@dataclass(frozen=True)
class Estimate:
    """What ``apply`` of a plan would send, and how long its requests take at each limit."""

    commands: int
    requests: int
    limits: tuple[AtLimit, ...]
    portal: OnPortal | None = None


def request_seconds(requests: int, burst: float, rate: float) -> float:
    """Seconds from the first to the last of ``requests`` sent as fast as the leaky bucket allows."""
    ceiling = max(1.0, burst - LeakyBucket.HEADROOM)
    return max(0.0, requests - ceiling) / rate


def estimate(plan: Plan, portal: PortalTime | None = None) -> Estimate:
    """The requests of ``plan`` (one per batch) and their time at the standard and enterprise limits;
    with ``portal``, also the least time on it."""
    return counted(
        sum(len(batch.commands) for batch in plan.batches), len(plan.batches), demand(plan), portal
    )


def demand(plan: Plan) -> dict[str, int]:
    """Per lower-case method, the units of server time ``plan`` asks for: a command each, a record
    each for an import command (``plan.imports``)."""
    units: dict[str, int] = {}
    for batch in plan.batches:
        for command in batch.commands:
            method = command.method.lower()
            records = plan.imports.get(command.key)
            units[method] = units.get(method, 0) + (len(records) if records else 1)
    return units


def counted(
    commands: int, requests: int, units: Mapping[str, int] | None = None, portal: PortalTime | None = None
) -> Estimate:
    """The estimate of ``requests`` requests carrying ``commands`` commands (a streamed plan's
    counts); with ``portal`` and the ``units`` of each method (``demand``), the least time on it."""
    limits = tuple(
        AtLimit(name, burst, rate, request_seconds(requests, burst, rate)) for name, (burst, rate) in LIMITS
    )
    found = None if portal is None else on_portal(units or {}, requests, limits[0].seconds, portal)
    return Estimate(commands, requests, limits, found)


def on_portal(units: Mapping[str, int], requests: int, bucket: float, portal: PortalTime) -> OnPortal:
    """The least time ``requests`` requests with these ``units`` per method take on ``portal``,
    ``bucket`` seconds being what the request limit alone takes (the module's docstring)."""
    spent = {method: count * portal.command(method) for method, count in units.items()}
    server = (sum(spent.values()) + requests * portal.request) / max(1, portal.workers)
    operating, binding = 0.0, None
    for method, seconds in sorted(spent.items()):
        if portal.limit > 0 and seconds > portal.limit:
            held = (math.ceil(seconds / portal.limit) - 1) * portal.window - portal.window / 10
            if held > operating:
                operating, binding = held, method
    longest = max(bucket, server, operating)
    binds = (
        "operating" if longest == operating and operating else "server" if longest == server else "requests"
    )
    return OnPortal(portal.name, longest, server, operating, binding, binds)


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
    width = max(len(name) for name in [*(limit.name for limit in result.limits), "cloud"])
    for limit in result.limits:
        lines.append(
            f"  {limit.name.ljust(width)}  {duration_text(limit.seconds):>12}  "
            f"(burst {limit.burst:g}, {limit.rate:g} requests/s)"
        )
    lines.append(
        "  request limits only: the portal's time per command and its operating-time limit come on top"
    )
    found = result.portal
    if found is not None:
        why = {
            "requests": "the standard request limit",
            "server": "the portal's server time",
            "operating": f"the operating-time budget of {found.method}",
        }[found.binds]
        lines.append(
            f"  {found.name.ljust(width)}  {duration_text(found.seconds):>12}  "
            f"(at least, with the portal's own time: set by {why}; docs/emulator.md's cloud figures)"
        )
    return "\n".join(lines) + "\n"


def estimate_json(result: Estimate) -> dict[str, object]:
    """The estimate as JSON data, for ``plan --estimate --format json``."""
    data: dict[str, object] = {
        "commands": result.commands,
        "requests": result.requests,
        "seconds": {limit.name: round(limit.seconds, 3) for limit in result.limits},
    }
    found = result.portal
    if found is not None:
        data["portal"] = {
            "name": found.name,
            "seconds": round(found.seconds, 3),
            "server_seconds": round(found.server, 3),
            "operating_seconds": round(found.operating, 3),
            "binding_method": found.method,
            "set_by": found.binds,
        }
    return data
