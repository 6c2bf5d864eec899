"""The leaky bucket and operating time, on fake clocks (protocol §7)."""

from __future__ import annotations

import pytest
import requests

from b24sync.emulator import Emulator
from b24sync.emulator.limits import LeakyBucket, OperatingTime, parse_rate_limit
from tests.helpers.emulator_fakes import FakeClock, emulator


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, None),
        ("off", None),
        ("standard", (50.0, 2.0)),
        ("enterprise", (250.0, 5.0)),
        ("10/0.5", (10.0, 0.5)),
        ((3, 1), (3.0, 1.0)),
    ],
)
def test_rate_limit_specs(spec: object, expected: object) -> None:
    assert parse_rate_limit(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["fast", "10", "0/1", "5/0", "a/b"])
def test_bad_rate_limit_specs_say_what_is_accepted(spec: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_rate_limit(spec)


def test_bucket_admits_a_burst_then_drains_at_its_rate() -> None:
    clock = FakeClock(0.0)
    bucket = LeakyBucket(3, 2, clock)
    assert [bucket.admit() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5  # drained by 1
    assert [bucket.admit() for _ in range(2)] == [True, False]
    clock.now = 10.0
    assert [bucket.admit() for _ in range(4)] == [True, True, True, False]


def test_the_emulator_answers_503_and_a_batch_costs_one() -> None:
    clock = FakeClock(0.0)
    emu = emulator(rate_limit=(2, 1), clock=clock)
    session = emu.mount(requests.Session())
    big_batch = {"cmd": {f"c{i}": "fake.add" for i in range(50)}}
    assert session.post(emu.webhook_url + "batch", json=big_batch).status_code == 200
    assert session.post(emu.webhook_url + "fake.add", json={}).status_code == 200
    refused = session.post(emu.webhook_url + "fake.add", json={})
    assert refused.status_code == 503
    assert refused.json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    assert len(emu.store.records) == 51  # the refused request ran nothing
    clock.now = 1.0
    assert session.post(emu.webhook_url + "fake.add", json={}).status_code == 200


def test_standard_plan_allows_fifty_at_once() -> None:
    emu = emulator(rate_limit="standard", clock=FakeClock(0.0))
    session = emu.mount(requests.Session())
    codes = [session.post(emu.webhook_url + "server.time", json={}).status_code for _ in range(51)]
    assert codes == [200] * 50 + [503]


def test_operating_window_blocks_after_the_crossing_call_and_frees_after_ten_minutes() -> None:
    wall = FakeClock(6000.0)
    limits = OperatingTime(limit=1.0, clock=wall)
    key = ("webhook:1", "m")
    limits.charge(key, 0.6)
    assert not limits.blocked(key)
    limits.charge(key, 0.6)
    assert limits.blocked(key)
    assert limits.state(key).reset_at == 6000 + 600
    wall.now = 6000.0 + 599
    assert limits.blocked(key)
    wall.now = 6000.0 + 600
    assert not limits.blocked(key)
    assert limits.state(key).operating == 0.0


def operating_emulator(wall: FakeClock) -> Emulator:
    return emulator(operating_limit=0.03, operating_cost=0.01, wall_clock=wall)


def test_a_method_over_its_operating_time_gets_429_and_others_still_run() -> None:
    wall = FakeClock(6000.0)
    emu = operating_emulator(wall)
    session = emu.mount(requests.Session())
    answers = [session.post(emu.webhook_url + "fake.add", json={}) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[3].json() == {
        "error": "OPERATION_TIME_LIMIT",
        "error_description": "Method is blocked due to operation time limit.",
    }
    assert answers[2].json()["time"]["operating"] == pytest.approx(0.03)
    assert answers[0].json()["time"]["operating_reset_at"] == 6600
    assert len(emu.store.records) == 3
    assert session.post(emu.webhook_url + "server.time", json={}).status_code == 200
    wall.now += 600
    assert session.post(emu.webhook_url + "fake.add", json={}).status_code == 200


def test_inside_a_batch_a_blocked_command_is_a_result_error_entry() -> None:
    wall = FakeClock(6000.0)
    emu = operating_emulator(wall)
    session = emu.mount(requests.Session())
    cmd = {"a1": "fake.add", "a2": "fake.add", "a3": "fake.add", "a4": "fake.add", "t": "server.time"}
    answer = session.post(emu.webhook_url + "batch", json={"halt": 0, "cmd": cmd})
    assert answer.status_code == 200
    body = answer.json()
    assert body["result"]["result_error"] == {
        "a4": {
            "error": "OPERATION_TIME_LIMIT",
            "error_description": "Method is blocked due to operation time limit.",
        }
    }
    assert list(body["result"]["result"]) == ["a1", "a2", "a3", "t"]
    assert body["result"]["result_time"]["a3"]["operating"] == pytest.approx(0.03)
    assert body["result"]["result_time"]["t"]["operating"] == pytest.approx(0.01)
    assert body["result"]["result_time"]["a1"]["operating_reset_at"] == 6600
    # protocol §7.2: the outer batch call itself is not counted
    assert body["time"]["operating"] == 0


def test_without_an_operating_limit_the_time_block_has_no_operating_fields() -> None:
    emu = emulator(operating_limit=None)
    body = emu.mount(requests.Session()).post(emu.webhook_url + "server.time", json={}).json()
    assert "operating" not in body["time"] and "operating_reset_at" not in body["time"]
