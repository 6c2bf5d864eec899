"""``plan --estimate``: the requests of a plan and their time at the portal's request limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24sync.bitrix.limits import ENTERPRISE_RATE, STANDARD_RATE
from b24sync.client.ratelimit import LeakyBucket, RateLimit
from b24sync.planning.estimate import (
    PortalTime,
    demand,
    duration_text,
    estimate,
    on_portal,
    render_estimate,
    request_seconds,
)
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


def cloud_like(limit: float = 480.0) -> PortalTime:
    """The emulator's cloud figures, written out: 100 ms an add, 70 ms a list, 65 ms an import record."""
    seconds = {
        "crm.item.add": 0.1,
        "crm.item.list": 0.07,
        "crm.item.batchimport": 0.065,
        "tasks.task.add": 0.1,
    }
    return PortalTime("cloud", lambda method: seconds[method], 0.03, 10, limit, 600.0)


def test_a_long_run_of_adds_is_held_by_the_operating_budget_a_window_per_refill(tmp_path: Path) -> None:
    # protocol §7.2: 50,000 adds are 5,000 s of server time, 11 budgets of 480 s: ten refills, each a
    # window of 600 s, less the basket the first charges end in
    found = estimate(plan_file(pipeline(tmp_path, 50_000)), cloud_like())
    assert found.portal is not None
    assert found.portal.seconds == 10 * 600 - 60
    assert (found.portal.binds, found.portal.method) == ("operating", "crm.item.add")
    assert found.portal.server == (5000 + 1000 * 0.03) / 10
    assert render_estimate(found).endswith(
        "  cloud         1 h 39 min  (at least, with the portal's own time: set by the operating-time "
        "budget of crm.item.add; "
        "docs/emulator.md's cloud figures)\n"
    )


def test_a_run_inside_one_budget_is_held_by_server_time_or_the_request_limit() -> None:
    # 4,000 adds: 400 s of server time fit one budget; over 10 workers 40 s, more than the bucket's 15 s
    found = on_portal({"crm.item.add": 4000}, 80, 15.0, cloud_like())
    assert found.seconds == pytest.approx(40.24)
    assert (found.operating, found.method, found.binds) == (0.0, None, "server")
    # the same commands where requests are the slower limit
    assert on_portal({"crm.item.add": 4000}, 80, 100.0, cloud_like()).binds == "requests"


def test_each_method_has_its_own_budget() -> None:
    # 600 s of adds need two budgets; 300 s of adds and 300 s of tasks fit one each
    assert on_portal({"crm.item.add": 6000}, 120, 0.0, cloud_like()).operating == 540.0
    spread = on_portal({"crm.item.add": 3000, "tasks.task.add": 3000}, 120, 0.0, cloud_like())
    assert (spread.operating, spread.binds) == (0.0, "server")


def test_an_import_command_costs_its_records(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("name\n" + "".join(f"P{i}\n" for i in range(10_000)), encoding="utf-8")
    (tmp_path / "p.yaml").write_text(
        "version: 1\nname: t\nsteps:\n"
        "  - id: contact\n    for_each: {file: rows.csv}\n    method: crm.item.add\n    mode: import\n"
        '    params: {entityTypeId: 3, fields: {name: "{{ item.name }}"}}\n',
        encoding="utf-8",
    )
    the_plan = plan_file(str(tmp_path / "p.yaml"))
    assert demand(the_plan) == {"crm.item.batchimport": 10_000}  # 500 commands of 20 records
    found = estimate(the_plan, cloud_like())
    assert found.portal is not None
    assert (found.portal.operating, found.portal.method) == (540.0, "crm.item.batchimport")
