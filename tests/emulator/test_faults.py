"""Injected faults: deterministic under a seed, error pages before processing, drops after it."""

from __future__ import annotations

import pytest
import requests

from b24sync.emulator.faults import FaultPlan
from tests.helpers.emulator_fakes import emulator


def test_the_same_seed_gives_the_same_faults() -> None:
    plan_a, plan_b = FaultPlan(0.3, 0.3, seed=7), FaultPlan(0.3, 0.3, seed=7)
    run_a = [plan_a.next() for _ in range(200)]
    assert run_a == [plan_b.next() for _ in range(200)]
    assert {fault.status for fault in run_a} == {None, 500, 502}
    assert any(fault.drop for fault in run_a)
    other = FaultPlan(0.3, 0.3, seed=8)
    assert [other.next() for _ in range(200)] != run_a


def test_rates_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="fail rate"):
        FaultPlan(fail_rate=1.5)


def test_a_failed_request_is_an_html_5xx_and_runs_nothing() -> None:
    emu = emulator(fail_rate=1.0)
    answer = emu.mount(requests.Session()).post(emu.webhook_url + "fake.add", json={})
    assert answer.status_code in (500, 502)
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "<html>" in answer.text
    assert emu.store.records == {}
    assert emu.stats()["faults"] == 1 and emu.stats()["commands"] == 0


def test_a_dropped_connection_raises_after_the_writes_happened() -> None:
    emu = emulator(drop_rate=1.0)
    session = emu.mount(requests.Session())
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(emu.webhook_url + "batch", json={"cmd": ["fake.add", "fake.add"]})
    assert len(emu.store.records) == 2
    assert emu.stats()["dropped"] == 1 and emu.stats()["commands"] == 2


def test_faults_follow_the_seed_across_an_emulator_run_and_after_reset() -> None:
    def outcomes() -> list[str]:
        session = emu.mount(requests.Session())
        seen = []
        for _ in range(40):
            try:
                seen.append(str(session.post(emu.webhook_url + "server.time", json={}).status_code))
            except requests.exceptions.ConnectionError:
                seen.append("drop")
        return seen

    emu = emulator(fail_rate=0.2, drop_rate=0.2, seed=3)
    first = outcomes()
    assert {"200", "drop"} <= set(first) and ({"500", "502"} & set(first))
    emu.reset()
    assert outcomes() == first


def test_latency_goes_through_the_injected_sleep() -> None:
    slept: list[float] = []
    emu = emulator(latency_ms=250, sleep=slept.append)
    session = emu.mount(requests.Session())
    session.post(emu.webhook_url + "server.time", json={})
    session.get(emu.base_url + "/_emulator/stats")
    assert slept == [0.25]
