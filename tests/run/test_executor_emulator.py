"""The executor against the emulator's limits and faults, on a fake clock shared by both sides."""

from __future__ import annotations

import random
from typing import Any

import requests

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.client import B24Hook, RetryPolicy
from b24sync.client.encoding import encode_command
from b24sync.emulator import Emulator
from b24sync.planning.model import Batch, Command, PipelineInfo, Plan
from b24sync.run.executor import execute
from tests.helpers.scripted import FakeTime


def contacts_plan(count: int, method: str = "crm.item.add") -> Plan:
    commands = []
    for i in range(count):
        params = (
            {"entityTypeId": 3, "fields": {"name": f"N{i}"}}
            if method == "crm.item.add"
            else {"entityTypeId": 3, "select": ["id"]}
        )
        commands.append(
            Command(
                key=f"c{i}",
                step="c",
                instance=str(i),
                method=method,
                params=params,
                query=encode_command(method, params),
            )
        )
    return Plan(
        pipeline=PipelineInfo(path="p", sha256="0" * 64),
        batches=tuple(
            Batch(index=n, halt=False, commands=tuple(commands[s : s + MAX_BATCH]))
            for n, s in enumerate(range(0, count, MAX_BATCH))
        ),
    )


def client_for(emu: Emulator, fake: FakeTime, **options: Any) -> B24Hook:
    return B24Hook(
        emu.webhook_url,
        session=emu.mount(requests.Session()),
        clock=fake.monotonic,
        wall_clock=fake.wall,
        sleep=fake.sleep,
        rng=random.Random(3),
        **options,
    )


def test_503_bursts_from_a_client_without_a_bucket_are_waited_out_without_duplicates() -> None:
    fake = FakeTime()
    emu = Emulator(rate_limit=(3, 1), clock=fake.monotonic, wall_clock=fake.wall)
    execution = execute(contacts_plan(300), client_for(emu, fake, rate_limit=None), halt_on_error=False)
    assert {s.status for s in execution.steps} == {"succeeded"}
    assert emu.stats()["by_status"].get("503", 0) > 0
    assert execution.retries == emu.stats()["by_status"]["503"]
    assert len(emu.store.items(3)) == 300


def test_the_client_bucket_keeps_a_run_free_of_503s() -> None:
    fake = FakeTime()
    emu = Emulator(rate_limit="standard", clock=fake.monotonic, wall_clock=fake.wall)
    execution = execute(
        contacts_plan(5000), client_for(emu, fake, rate_limit="standard"), halt_on_error=False
    )
    assert {s.status for s in execution.steps} == {"succeeded"}
    assert emu.stats()["by_status"] == {"200": 100}
    # burst of 49 (one of headroom), then 2 requests per second
    assert 25.0 <= execution.waited_s <= 26.0


def test_operation_time_limit_inside_batches_waits_for_the_reset_and_resends_only_the_blocked() -> None:
    fake = FakeTime()
    emu = Emulator(operating_limit=0.3, operating_cost=0.01, clock=fake.monotonic, wall_clock=fake.wall)
    execution = execute(contacts_plan(100), client_for(emu, fake, rate_limit=None), halt_on_error=False)
    assert {s.status for s in execution.steps} == {"succeeded"}
    assert len(emu.store.items(3)) == 100
    assert execution.waited_s >= 10
    assert emu.stats()["requests"] > 2  # the blocked commands went again in later requests
    assert emu.stats()["commands"] == 100  # and every add ran exactly once


def test_html_500s_on_reads_are_retried_and_on_writes_are_unknown() -> None:
    fake = FakeTime()
    emu = Emulator(fail_rate=0.5, seed=4, clock=fake.monotonic, wall_clock=fake.wall)
    reads = execute(
        contacts_plan(200, method="crm.item.list"),
        # HTML 500s from the very first request: retried as a portal's (RetryPolicy.unproven_retries)
        client_for(emu, fake, rate_limit=None, retry=RetryPolicy(attempts=10, unproven_retries=10)),
    )
    assert {s.status for s in reads.steps} == {"succeeded"} and reads.retries > 0
    broken = Emulator(fail_rate=1.0, seed=4, clock=fake.monotonic, wall_clock=fake.wall)
    writes = execute(contacts_plan(60), client_for(broken, fake, rate_limit=None))
    assert [s.status for s in writes.steps][:50] == ["unknown"] * 50
    assert [s.status for s in writes.steps][50:] == ["not_run"] * 10
    assert broken.stats()["requests"] == 1
