"""Injected faults, deterministic under a seed: latency, random 500/502, dropped connections."""

from __future__ import annotations

import random
from dataclasses import dataclass

ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>\n"
    "<body><h1>{status} {reason}</h1><p>nginx</p></body></html>\n"
)
REASONS = {500: "Internal Server Error", 502: "Bad Gateway"}


@dataclass(frozen=True)
class Fault:
    """What happens to one request: an error page instead of processing, or a drop after it."""

    status: int | None = None
    drop: bool = False

    def page(self) -> bytes:
        """The HTML body of an injected 5xx, as a proxy in front of a portal would send it."""
        status = self.status or 500
        return ERROR_PAGE.format(status=status, reason=REASONS.get(status, "Error")).encode()


class FaultPlan:
    """Draws the fate of each request from one seeded generator, so runs repeat exactly."""

    def __init__(self, fail_rate: float = 0.0, drop_rate: float = 0.0, seed: int = 0) -> None:
        for name, rate in (("fail rate", fail_rate), ("drop rate", drop_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} {rate} must be between 0 and 1")
        self.fail_rate = fail_rate
        self.drop_rate = drop_rate
        self.seed = seed
        self._random = random.Random(seed)

    def reset(self) -> None:
        """Start the sequence again from the seed."""
        self._random = random.Random(self.seed)

    def next(self) -> Fault:
        """The fate of the next request; always three draws, so one rate does not shift the other."""
        fail, pick, drop = self._random.random(), self._random.random(), self._random.random()
        if fail < self.fail_rate:
            return Fault(status=500 if pick < 0.5 else 502)
        return Fault(drop=drop < self.drop_rate)
