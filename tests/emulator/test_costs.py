"""The portal cost model: server time per command, time blocks, operating charges, workers (protocol §7.2)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from b24sync.emulator import Emulator, EmulatorError
from b24sync.emulator.costs import CLOUD, CostModel, method_class, parse_costs, profile
from tests.helpers.emulator_fakes import FakeClock

T0 = 1_700_000_000.0


def near(value: float) -> Any:
    """Equal to a microsecond: time blocks subtract unix times, which keep about seven decimals."""
    return pytest.approx(value, abs=1e-6)


class Sleeper:
    """An injected sleep that moves a fake clock and records each wait."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.clock.now += seconds


def cloud(**options: Any) -> tuple[Emulator, requests.Session, Sleeper]:
    clock = FakeClock(T0)
    sleeper = Sleeper(clock)
    options.setdefault("profile", "cloud")
    emu = Emulator(wall_clock=clock, clock=clock, sleep=sleeper, **options)
    return emu, emu.mount(requests.Session()), sleeper


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("crm.item.add", "add"),
        ("crm.deal.contact.add", "add"),
        ("tasks.task.update", "update"),
        ("crm.contact.delete", "delete"),
        ("crm.item.get", "get"),
        ("crm.item.list", "list"),
        ("user.get", "list"),
        ("crm.duplicate.findbycomm", "list"),
        ("crm.item.batchimport", "import"),
        ("crm.item.fields", "fields"),
        ("server.time", "other"),
    ],
)
def test_methods_fall_into_classes(method: str, kind: str) -> None:
    assert method_class(method) == kind


def test_profiles_and_costs_are_checked_with_clear_messages() -> None:
    assert profile("Cloud") is CLOUD
    with pytest.raises(ValueError, match="unknown emulator profile 'moon': use one of instant, cloud"):
        profile("moon")
    assert parse_costs(["add=150", "COUNT=0.5"]) == {"add": 0.15, "count": 0.0005}
    for bad in ("add", "add=x", "add=-1", "add=nan"):
        with pytest.raises(ValueError, match="is not CLASS=MILLISECONDS"):
            parse_costs([bad])
    with pytest.raises(ValueError, match="unknown cost moves"):
        CLOUD.with_costs({"moves": 1.0})
    with pytest.raises(EmulatorError, match="unknown cost"):
        Emulator(profile="cloud", costs={"moves": 1.0})
    with pytest.raises(EmulatorError, match="at least 1"):
        Emulator(workers=0)


def test_overrides_replace_single_figures_and_keep_the_rest() -> None:
    model = CLOUD.with_costs({"add": 0.25, "request": 0.0})
    assert model.command("crm.item.add") == 0.25
    assert model.command("crm.item.update") == CLOUD.seconds["update"]
    assert model.request == 0.0 and model.latency == CLOUD.latency


def test_a_list_that_counts_pays_per_counted_record() -> None:
    model = CostModel("m", seconds={"list": 0.05}, count=0.001)
    assert model.command("crm.item.list", total=200) == near(0.25)
    assert model.command("crm.item.list", total=None) == 0.05


def test_a_single_call_reports_and_sleeps_its_modelled_time() -> None:
    emu, session, sleeper = cloud()
    answer = session.post(emu.webhook_url + "crm.item.add", json={"entityTypeId": 3, "fields": {"name": "A"}})
    assert answer.status_code == 200
    block = answer.json()["time"]
    started = T0 + 0.030  # after the network latency
    assert block["start"] == near(started)
    # protocol §1.4: duration spans the request, processing the command, operating what was charged
    assert block["duration"] == near(0.130)
    assert block["processing"] == near(0.100)
    assert block["finish"] == near(started + 0.130)
    assert block["operating"] == near(0.100)
    assert block["operating_reset_at"] == int(T0 // 60 * 60 + 600)
    # the latency, the request's own time until the command starts, then the command
    assert sleeper.waits == [0.03, 0.03, 0.1]


def test_batch_commands_run_one_after_another_each_with_its_own_time() -> None:
    emu, session, sleeper = cloud()
    cmd = {
        "a": "crm.item.add?entityTypeId=3&fields[name]=A",
        "b": "crm.item.add?entityTypeId=3&fields[name]=B",
        "l": "crm.item.list?entityTypeId=3&select[0]=id",
        "bad": "crm.item.get?entityTypeId=3&id=999",
    }
    answer = session.post(emu.webhook_url + "batch", json={"halt": 0, "cmd": cmd}).json()
    times = answer["result"]["result_time"]
    begin = T0 + 0.030 + 0.030  # latency, then the request's own server time
    assert times["a"]["start"] == near(begin)
    assert times["b"]["start"] == near(times["a"]["finish"])
    assert times["l"]["start"] == near(times["b"]["finish"])
    assert times["a"]["duration"] == near(0.100)
    list_time = 0.070 + 2 * CLOUD.count  # two records counted
    assert times["l"]["duration"] == near(list_time)
    # operating accumulates per method: the second add sees both adds
    assert times["a"]["operating"] == near(0.100)
    assert times["b"]["operating"] == near(0.200)
    assert times["l"]["operating"] == near(list_time)
    assert "bad" not in times and "bad" in answer["result"]["result_error"]
    # the failed get still took its class's time
    total = 0.030 + 0.200 + list_time + 0.050
    assert answer["time"]["duration"] == near(total)
    assert answer["time"]["processing"] == near(total - 0.030)
    assert answer["time"]["operating"] == 0  # protocol §7.2: the batch itself is not counted
    # each command waits for its turn (the request's own time, then the commands before it), and
    # the request ends when the last one does: the sleeps add up to the latency and the server time
    assert sleeper.waits == [0.03, 0.03, 0.1, 0.1, round(list_time, 6), 0.05]
    assert emu.stats()["server_seconds"] == near(total)


def test_the_modelled_time_is_charged_until_the_method_is_blocked() -> None:
    emu, session, _ = cloud(operating_limit=1.0, costs={"add": 0.4})
    cmd = {f"c{i}": f"crm.item.add?entityTypeId=3&fields[name]=N{i}" for i in range(4)}
    answer = session.post(emu.webhook_url + "batch", json={"halt": 0, "cmd": cmd}).json()["result"]
    # protocol §7.2: the call that crosses the limit completes, the next one is refused
    assert list(answer["result"]) == ["c0", "c1", "c2"]
    assert answer["result_time"]["c2"]["operating"] == near(1.2)
    assert answer["result_error"]["c3"]["error"] == "OPERATION_TIME_LIMIT"
    single = session.post(emu.webhook_url + "crm.item.add", json={"entityTypeId": 3, "fields": {"name": "X"}})
    assert single.status_code == 429
    assert single.json()["error"] == "OPERATION_TIME_LIMIT"
    # other methods keep their own budget
    assert session.post(emu.webhook_url + "crm.item.list", json={"entityTypeId": 3}).status_code == 200


def test_the_instant_profile_keeps_the_fixed_operating_cost_and_never_sleeps() -> None:
    clock = FakeClock(T0)
    sleeper = Sleeper(clock)
    emu = Emulator(wall_clock=clock, sleep=sleeper, operating_cost=0.25)
    session = emu.mount(requests.Session())
    block = session.post(emu.webhook_url + "crm.item.add", json={"entityTypeId": 3, "fields": {}}).json()[
        "time"
    ]
    assert block["operating"] == 0.25
    assert block["duration"] == 0 and sleeper.waits == []
    assert emu.stats()["server_seconds"] == 0


def test_an_explicit_latency_replaces_the_profiles() -> None:
    emu, session, sleeper = cloud(latency_ms=5)
    session.post(emu.webhook_url + "server.time")
    assert sleeper.waits == [0.005, 0.03, 0.01]  # the latency, the request, server.time


def test_concurrent_requests_are_served_in_parallel_up_to_the_worker_bound() -> None:
    """Over the real server: eight clients at once, four workers, the modelled time outside the lock."""
    workers, clients = 4, 8
    active, peak = 0, 0
    counted = threading.Lock()
    release = threading.Event()

    def gate(seconds: float) -> None:
        nonlocal active, peak
        with counted:
            active += 1
            peak = max(peak, active)
        release.wait(10)
        with counted:
            active -= 1

    emu = Emulator(profile="cloud", latency_ms=0, workers=workers, sleep=gate, operating_limit=None)
    statuses: list[int] = []

    def client(url: str, index: int) -> None:
        answer = requests.post(
            url + "crm.item.add", json={"entityTypeId": 3, "fields": {"name": f"N{index}"}}
        )
        statuses.append(answer.status_code)

    with emu.serve() as url:
        threads = [threading.Thread(target=client, args=(url, i)) for i in range(clients)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while peak < workers and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # a fifth request would have entered by now if the bound did not hold
        assert peak == workers
        release.set()
        for thread in threads:
            thread.join(10)
    assert statuses == [200] * clients
    assert len(emu.store.items(3)) == clients


def test_limit_refusals_are_counted_by_code_inside_batches_too() -> None:
    emu, session, _ = cloud(operating_limit=1.0, costs={"add": 0.4}, rate_limit="1/0.01")
    cmd = {f"c{i}": f"crm.item.add?entityTypeId=3&fields[name]=N{i}" for i in range(4)}
    session.post(emu.webhook_url + "batch", json={"halt": 0, "cmd": cmd})
    session.post(emu.webhook_url + "server.time", json={})  # the bucket of one is full
    assert emu.stats()["refused"] == {"OPERATION_TIME_LIMIT": 1, "QUERY_LIMIT_EXCEEDED": 1}


def test_a_command_is_charged_to_the_basket_in_which_its_server_time_ends() -> None:
    # 59.9 s into a minute a 0.4 s command ends in the next minute's basket, which expires 60 s later
    emu, session, _ = cloud(operating_limit=100.0, costs={"add": 0.4, "request": 0})
    emu._wall_clock.now = T0 - T0 % 60 + 59.9  # type: ignore[attr-defined]
    block = session.post(
        emu.webhook_url + "crm.item.add", json={"entityTypeId": 3, "fields": {"name": "X"}}
    ).json()["time"]
    assert block["operating_reset_at"] == T0 - T0 % 60 + 60 + 600


def test_a_shorter_operating_window_has_ten_baskets_of_a_tenth_each() -> None:
    emu, session, sleeper = cloud(operating_limit=1.0, costs={"add": 0.6}, operating_window=60)
    start = sleeper.clock.now
    add = {"entityTypeId": 3, "fields": {"name": "X"}}
    assert [session.post(emu.webhook_url + "crm.item.add", json=add).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    sleeper.clock.now = start + 61
    assert session.post(emu.webhook_url + "crm.item.add", json=add).status_code == 200
    with pytest.raises(EmulatorError, match="multiple of 10"):
        Emulator(operating_window=45)


def test_a_basket_that_expires_while_a_batch_runs_frees_room_for_its_later_commands() -> None:
    # protocol §7.2: each command of a batch finds the window as it is when it starts. Three adds
    # fill a 0.3-s budget, so crm.item.add is blocked; a batch sent just before their basket
    # expires runs a list across the expiry, then an add, which finds the window empty. Checking
    # every command when the request arrived refused the add.
    emu, session, sleeper = cloud(operating_limit=0.3)
    for name in ("A", "B", "C"):
        session.post(emu.webhook_url + "crm.item.add", json={"entityTypeId": 3, "fields": {"name": name}})
    clock = sleeper.clock
    expiry = (clock.now // 60 + 10) * 60
    clock.now = expiry - 0.1  # the list starts 0.04 s before the expiry and ends after it
    cmd = {
        "l": "crm.item.list?entityTypeId=3&select[0]=id",
        "d": "crm.item.add?entityTypeId=3&fields[name]=D",
    }
    result = session.post(emu.webhook_url + "batch", json={"halt": 0, "cmd": cmd}).json()["result"]
    assert result["result_error"] == []
    assert result["result_time"]["l"]["start"] < expiry < result["result_time"]["d"]["start"]
    assert result["result_time"]["d"]["operating"] == near(0.1)  # only the add of this batch
    assert len(emu.store.items(3)) == 4
    after = session.post(emu.webhook_url + "crm.item.add", json={"entityTypeId": 3, "fields": {}})
    assert after.status_code == 200  # 0.1 s of 0.3 used: the next add runs too


def test_a_command_still_running_in_another_request_is_not_yet_in_the_window() -> None:
    # a portal charges a command when it ends: while one request's 0.6-s add runs, another's add
    # finds the 0.5-s budget untouched and runs; once both have ended the window holds 1.2 s and the
    # next add is refused. Booking a command's time when its request arrived refused the second.
    emu = Emulator(profile="cloud", costs={"add": 0.6, "request": 0}, latency_ms=0, operating_limit=0.5)
    statuses: dict[str, int] = {}

    def add(url: str, name: str) -> None:
        answer = requests.post(url + "crm.item.add", json={"entityTypeId": 3, "fields": {"name": name}})
        statuses[name] = answer.status_code

    with emu.serve() as url:
        first = threading.Thread(target=add, args=(url, "first"))
        first.start()
        deadline = time.monotonic() + 10
        while emu.stats()["commands"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        add(url, "second")  # sent while the first add runs
        first.join(10)
        add(url, "third")
    assert statuses == {"first": 200, "second": 200, "third": 429}
    assert len(emu.store.items(3)) == 2
