"""``plan --estimate``: the requests of a plan and their time at the portal's request limits."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from b24sync.bitrix.limits import ENTERPRISE_RATE, STANDARD_RATE
from b24sync.client.ratelimit import LeakyBucket, RateLimit
from b24sync.planning.estimate import duration_text, estimate, render_estimate, request_seconds
from b24sync.planning.planner import plan_file


def simulated(requests: int, burst: float, rate: float) -> float:
    """When the client's own leaky bucket lets the last of ``requests`` go, on a clock that only waits."""
    now = [0.0]
    bucket = LeakyBucket(RateLimit(burst, rate), lambda: now[0])
    for _ in range(requests):
        now[0] += bucket.delay()
        bucket.take()
    return now[0]


@given(st.integers(0, 3000), st.sampled_from([STANDARD_RATE, ENTERPRISE_RATE, (10.0, 1.0), (1.0, 0.5)]))
def test_the_estimate_is_when_the_client_s_bucket_sends_the_last_request(
    requests: int, limit: tuple[float, float]
) -> None:
    burst, rate = limit
    assert abs(request_seconds(requests, burst, rate) - simulated(requests, burst, rate)) < 1e-6


def pipeline(folder: Path, rows: int) -> str:
    (folder / "rows.csv").write_text("name\n" + "".join(f"P{i}\n" for i in range(rows)), encoding="utf-8")
    (folder / "p.yaml").write_text(
        "version: 1\nname: t\nsteps:\n"
        "  - id: contact\n    for_each: {file: rows.csv}\n    method: crm.item.add\n"
        '    params: {entityTypeId: 3, fields: {name: "{{ item.name }}"}}\n',
        encoding="utf-8",
    )
    return str(folder / "p.yaml")


def test_100000_commands_take_2000_requests_16_minutes_standard_and_6_enterprise(tmp_path: Path) -> None:
    found = estimate(plan_file(pipeline(tmp_path, 100_000)))
    assert (found.commands, found.requests) == (100_000, 2000)
    # protocol §7.1: 49 at once (one of headroom below 50), then 2 per second; 249, then 5 per second
    assert [(limit.name, limit.seconds) for limit in found.limits] == [
        ("standard", (2000 - 49) / 2),
        ("enterprise", (2000 - 249) / 5),
    ]
    assert render_estimate(found) == (
        "100,000 commands in 2,000 requests\n"
        "  standard     16 min 16 s  (burst 50, 2 requests/s)\n"
        "  enterprise    5 min 51 s  (burst 250, 5 requests/s)\n"
        "  request limits only: the portal's time per command and its operating-time limit come on top\n"
    )


def test_durations_read_in_the_largest_units() -> None:
    assert [duration_text(s) for s in (0, 0.2, 59, 60, 975.5, 3600, 7505)] == [
        "0 s",
        "1 s",
        "59 s",
        "1 min 0 s",
        "16 min 16 s",
        "1 h 0 min",
        "2 h 5 min",
    ]
