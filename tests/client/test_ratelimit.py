"""The client's mirror of the portal's limits: the leaky bucket and each method's operating budget."""

from __future__ import annotations

import pytest

from b24sync.client.ratelimit import LeakyBucket, RateLimit
from b24sync.errors import UsageError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("spec", "limit"),
    [
        ("standard", RateLimit(50, 2)),
        ("enterprise", RateLimit(250, 5)),
        ("off", None),
        (" 10 / 0.5 ", RateLimit(10, 0.5)),
        (None, None),
    ],
)
def test_named_and_written_limits(spec: str | None, limit: RateLimit | None) -> None:
    assert RateLimit.parse(spec) == limit


@pytest.mark.parametrize("spec", ["fast", "0/2", "50/0", "50", "-1/2"])
def test_a_bad_limit_says_what_is_accepted(spec: str) -> None:
    with pytest.raises(UsageError, match="standard, enterprise, off or BURST/RATE"):
        RateLimit.parse(spec)


def test_the_bucket_lets_a_burst_through_then_paces_at_the_rate() -> None:
    clock = Clock()
    bucket = LeakyBucket(RateLimit(5, 2), clock)
    for _ in range(4):  # one request of headroom below the burst of 5
        assert bucket.delay() == 0
        bucket.take()
    assert bucket.delay() == pytest.approx(0.5)  # the fifth waits for half a request to drain
    clock.now += 0.5
    assert bucket.delay() == pytest.approx(0.0)


def test_a_refused_request_fills_the_bucket() -> None:
    clock = Clock()
    bucket = LeakyBucket(RateLimit(50, 2), clock)
    bucket.fill()
    assert bucket.delay() == pytest.approx(1.0)  # level 50, ceiling 49: one request must drain
