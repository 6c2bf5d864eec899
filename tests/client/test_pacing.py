"""Pacing to the operating budget: a request goes when every method it calls has room for it (protocol §7.2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from b24sync import B24Hook, Emulator, apply
from b24sync.client.pacing import OperatingBudget
from tests.helpers.scripted import FakeTime

T = 6000.0  # the start of a basket: minute 100


class Clock:
    def __init__(self, now: float = T) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def commands(
    budget: OperatingBudget, method: str, count: int, seconds: float, at: float, used: float
) -> float:
    """Record ``count`` commands of ``seconds`` each ending at ``at``; return the window total after them."""
    for _ in range(count):
        used += seconds
        reset_at = (at // 60 - 9) * 60 + 600 if used == seconds else budget.reset_at(method)
        budget.observe(
            method, {"processing": seconds, "finish": at, "operating": used, "operating_reset_at": reset_at}
        )
    return used


def test_a_request_waits_until_the_window_has_room_for_all_but_its_last_command() -> None:
    clock = Clock()
    budget = OperatingBudget(clock, limit=10)  # margin: a hundredth of the limit
    used = commands(budget, "crm.item.add", 3, 1.5, T + 1, 0.0)  # minute 100: 4.5 s
    clock.now = T + 61
    used = commands(budget, "crm.item.add", 2, 1.5, T + 61, used)  # minute 101: 3 s more, 7.5 s
    # two commands: the first must find the window below the limit, 7.5 + 1.5 <= 9.9: now
    assert budget.delay({"crm.item.add": 2}) == 0
    # three: 7.5 + 3 > 9.9, so wait for minute 100's basket to expire (+1 s), less what the
    # request can spend before that: its commands run one after another, so by the expiry it has
    # charged at most the time it has been out: 7.5 + 2.4 <= 9.9, then 3 + 3 <= 9.9
    assert budget.delay({"crm.item.add": 3}) == pytest.approx(T + 600 + 1 - 2.4 - clock.now)
    # six: 7.5 s = 5 commands would not fit even in an empty window before minute 101's basket
    # expires; they may start 6.9 s before it does (3 + 6.9 <= 9.9)
    assert budget.delay({"crm.item.add": 6}) == pytest.approx(T + 660 + 1 - 6.9 - clock.now)
    # another method has its own budget
    assert budget.delay({"crm.item.update": 50}) == 0


def test_time_the_client_did_not_see_spent_is_spread_from_the_oldest_basket_to_now() -> None:
    clock = Clock()
    budget = OperatingBudget(clock, limit=480)
    # below the limit a call still runs, even one that crosses it (protocol §7.2)
    budget.observe("crm.item.add", {"operating": 476, "operating_reset_at": clock.now + 60})
    assert budget.delay(["crm.item.add"]) == 0
    # an earlier run used 479.5 s (within the margin); the oldest of its baskets expires in 60 s
    budget.observe("crm.item.add", {"operating": 479.5, "operating_reset_at": clock.now + 60})
    assert budget.delay(["CRM.ITEM.ADD", "crm.item.list"]) == pytest.approx(61)
    assert budget.delay(["crm.item.list"]) == 0
    # spread over the ten baskets, one tenth is gone at the reset
    clock.now += 61
    assert budget.delay(["crm.item.add"]) == 0


def test_when_the_portal_counts_less_than_the_ledger_the_oldest_charges_go_first() -> None:
    clock = Clock()
    budget = OperatingBudget(clock, limit=10)
    used = commands(budget, "m", 4, 2.0, T + 1, 0.0)  # 8 s in minute 100
    clock.now = T + 61
    used = commands(budget, "m", 1, 1.0, T + 61, used)  # 1 s in minute 101: 9 s
    assert budget.delay({"m": 2}) > 0
    # reads may be charged less than their processing (protocol §7.2): the portal says 6 s in all
    budget.observe("m", {"operating": 6.0, "operating_reset_at": T + 600})
    assert budget.delay({"m": 2}) == 0  # 6 + 2 <= 9.9


def test_a_block_without_a_known_reset_waits_ten_seconds() -> None:
    budget = OperatingBudget(Clock())
    assert budget.block("crm.item.add", None) == pytest.approx(10)
    assert budget.reset_at("crm.item.add") is None


def test_time_blocks_without_operating_figures_are_ignored() -> None:
    budget = OperatingBudget(Clock())
    budget.observe("x", None)
    budget.observe("x", {"duration": 0.1})
    assert budget.delay(["x"]) == 0


# -- against the emulator with the cloud cost model, in virtual time ---------------------------

ADDS = """\
version: 1
name: adds
steps:
  - id: c
    for_each: {file: rows.json}
    key: "{{ item.n }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.n }}"}}
"""


def test_a_run_that_outgrows_the_operating_budget_is_never_refused(tmp_path: Path) -> None:
    # 600 adds of 0.3 s each: 180 s of server time against a budget of 40 s per ten minutes, each
    # batch of 50 costing 15 s. Sending until the portal refuses got 5 commands refused here.
    time = FakeTime()
    emu = Emulator(
        profile="cloud",
        costs={"add": 0.3},
        rate_limit="standard",
        operating_limit=40,
        clock=time.monotonic,
        wall_clock=time.wall,
        sleep=time.sleep,
    )
    client = B24Hook(
        emu.webhook_url,
        session=emu.mount(requests.Session()),
        rate_limit="standard",
        operating_limit=40,
        clock=time.monotonic,
        wall_clock=time.wall,
        sleep=time.sleep,
    )
    (tmp_path / "rows.json").write_text(json.dumps([{"n": f"c{i}"} for i in range(600)]))
    (tmp_path / "adds.yaml").write_text(ADDS)
    run = apply(tmp_path / "adds.yaml", client, contract=False)
    assert run.report.totals.succeeded == 600
    assert emu.stats()["refused"] == {}
    assert emu.stats()["requests"] == 1 + 12  # the pre-flight `scope`; no request was sent twice


def test_at_the_standard_rate_the_bucket_never_refuses_a_request() -> None:
    time = FakeTime()
    emu = Emulator(
        profile="cloud", rate_limit="standard", clock=time.monotonic, wall_clock=time.wall, sleep=time.sleep
    )
    client = B24Hook(
        emu.webhook_url,
        session=emu.mount(requests.Session()),
        rate_limit="standard",
        clock=time.monotonic,
        wall_clock=time.wall,
        sleep=time.sleep,
    )
    for _ in range(120):
        client.call_method("server.time")
    assert emu.stats()["refused"] == {}
    assert emu.stats()["requests"] == 120


def test_the_ledger_holds_baskets_not_commands() -> None:
    # the emulator's instant profile charges 0.01 s a call while reporting microseconds of
    # processing: every answer leaves time to spread. A ledger of charges per command grew by ten
    # entries an answer and made 20,000 adds through apply take 53 s instead of 7 s.
    clock = Clock()
    budget = OperatingBudget(clock, limit=480)
    for n in range(1, 10_001):
        clock.now = T + n * 0.03  # 300 s: five baskets
        budget.observe(
            "crm.item.add",
            {"processing": 1e-5, "finish": clock.now, "operating": n * 0.01, "operating_reset_at": T + 600},
        )
    ledger = budget._ledgers["crm.item.add"]
    assert len(ledger.charges) <= 2 * 10 + 1
    assert ledger.live() == pytest.approx(100.0)


def test_commands_in_flight_in_another_thread_are_planned_for_until_their_answer() -> None:
    import threading

    clock = Clock()
    budget = OperatingBudget(clock, limit=10)
    commands(budget, "crm.item.add", 3, 1.5, T + 1, 0.0)  # 4.5 s in the window
    assert budget.delay({"crm.item.add": 2}) == 0  # 4.5 + 1.5 <= 9.9
    sent, answer = threading.Event(), threading.Event()

    def request() -> None:  # another thread's request of 3 adds: ~4.5 s on the wire, not yet charged
        budget.sending({"crm.item.add": 3})
        sent.set()
        answer.wait(timeout=20)
        budget.answered()

    other = threading.Thread(target=request)
    other.start()
    assert sent.wait(timeout=20)
    # 4.5 + 3 in flight x 1.5 + 1.5 > 9.9: no room before the basket of minute 100 expires (less
    # the 0.9 s the first command may spend before it), unless the request in flight is answered
    # first: its time blocks place its charges, so the client asks again once it may have been
    # (sent + 4.5 s + 1 s)
    assert budget.delay({"crm.item.add": 2}) == pytest.approx(4.5 + 1)
    budget.sending({"crm.item.add": 2})  # this thread's own request is not counted against itself
    assert budget.delay({"crm.item.add": 2}) == pytest.approx(4.5 + 1)
    clock.now += 5.5  # still not answered: asked again every second
    assert budget.delay({"crm.item.add": 2}) == pytest.approx(1)
    clock.now = T
    assert budget.delay({"crm.item.update": 50}) == 0  # another method is not held by them
    answer.set()
    other.join(timeout=20)
    assert budget.delay({"crm.item.add": 2}) == 0  # answered: its charges come from its time blocks


def test_before_any_answer_of_a_method_only_what_fits_at_a_full_request_each_is_in_flight() -> None:
    import threading

    from b24sync.bitrix.limits import REQUEST_DEADLINE
    from b24sync.client.pacing import POLL

    clock = Clock()
    budget = OperatingBudget(clock)  # 480 s: 8 requests of up to 60 s each fit, 9 do not
    assert budget.delay({"crm.item.batchImport": 42}) == 0  # the first one always goes
    release = threading.Event()
    started: list[threading.Event] = []

    def request() -> None:
        budget.sending({"crm.item.batchImport": 42})
        started[-1].set()
        release.wait(timeout=20)
        budget.answered()

    threads = []
    for _ in range(7):
        started.append(threading.Event())
        threads.append(threading.Thread(target=request))
        threads[-1].start()
        assert started[-1].wait(timeout=20)
        assert budget.delay({"crm.item.batchImport": 42}) == 0
    started.append(threading.Event())
    threads.append(threading.Thread(target=request))
    threads[-1].start()
    assert started[-1].wait(timeout=20)
    assert 8 * REQUEST_DEADLINE <= 480 < 9 * REQUEST_DEADLINE
    assert budget.delay({"crm.item.batchImport": 42}) == POLL  # a ninth waits for an answer
    assert budget.delay({"crm.item.add": 50}) == 0  # another method is not held by them
    commands(budget, "crm.item.batchImport", 1, 1.3, T + 1, 0.0)  # an answer: now its cost is known
    # 8 x 42 x 1.3 s in flight + 1.3 s charged + 41 x 1.3 s > 479 s: no room before the basket
    # expires; asked again once the eight may have been answered (sent + 54.6 s + 1 s)
    assert budget.delay({"crm.item.batchImport": 42}) == pytest.approx(54.6 + 1)
    assert budget.delay({"crm.item.batchImport": 20}) == 0  # 436.8 + 1.3 + 19 x 1.3 fits
    release.set()
    for thread in threads:
        thread.join(timeout=20)


def test_on_a_small_budget_a_second_request_of_an_unseen_method_waits_for_the_first_answer() -> None:
    import threading

    from b24sync.client.pacing import POLL

    budget = OperatingBudget(Clock(), limit=10)
    sent, answer = threading.Event(), threading.Event()

    def request() -> None:
        budget.sending({"crm.item.add": 50})
        sent.set()
        answer.wait(timeout=20)
        budget.answered()

    other = threading.Thread(target=request)
    other.start()
    assert sent.wait(timeout=20)
    assert budget.delay({"crm.item.add": 50}) == POLL
    answer.set()
    other.join(timeout=20)
    assert budget.delay({"crm.item.add": 50}) == 0


def test_what_the_portal_counts_of_requests_still_in_flight_is_not_spread_over_the_window() -> None:
    # the portal's `operating` may hold the commands of another thread's request before its answer;
    # spread over the baskets, part of it would seem to expire with the oldest one, and the request
    # sent then was refused with OPERATION_TIME_LIMIT (10,000 imports at --parallel 10: 1 command)
    import threading

    budget = OperatingBudget(Clock())
    sent, answer = threading.Event(), threading.Event()

    def request() -> None:
        budget.sending({"crm.item.batchImport": 42})
        sent.set()
        answer.wait(timeout=20)
        budget.answered()

    other = threading.Thread(target=request)
    other.start()
    assert sent.wait(timeout=20)
    budget.observe(
        "crm.item.batchImport",
        {"processing": 1.3, "finish": T + 1, "operating": 1.3 + 42 * 1.3, "operating_reset_at": T + 600},
    )
    assert budget._ledgers["crm.item.batchimport"].live() == pytest.approx(1.3)
    answer.set()
    other.join(timeout=20)


def test_before_any_answer_ten_requests_of_fifty_adds_fit_the_budget_at_their_worst() -> None:
    import threading

    from b24sync.client.pacing import UNKNOWN_SECONDS

    budget = OperatingBudget(Clock())
    release = threading.Event()
    ready: list[threading.Event] = []

    def request() -> None:
        budget.sending({"crm.item.add": 50})
        ready[-1].set()
        release.wait(timeout=20)
        budget.answered()

    threads = []
    for _ in range(9):
        ready.append(threading.Event())
        threads.append(threading.Thread(target=request))
        threads[-1].start()
        assert ready[-1].wait(timeout=20)
    assert 10 * 50 * UNKNOWN_SECONDS <= 480
    assert budget.delay({"crm.item.add": 50}) == 0  # the tenth goes: 10 x 25 s at the worst
    release.set()
    for thread in threads:
        thread.join(timeout=20)


def test_a_figure_older_than_a_request_answered_first_takes_nothing_off_the_ledger() -> None:
    # request A goes, then B; B is answered first (its figure counts A's commands too, as the portal
    # charges a command when it runs); A's figure dates from before B, so it counts less than the
    # ledger holds: that is no sign of charges the portal no longer counts
    import threading

    budget = OperatingBudget(Clock())
    a_sent, b_done, a_done = threading.Event(), threading.Event(), threading.Event()

    def request_a() -> None:
        budget.sending({"crm.item.add": 1})
        a_sent.set()
        assert b_done.wait(timeout=20)
        block = {"processing": 5.0, "finish": T + 1, "operating": 5.0, "operating_reset_at": T + 600}
        budget.observe("crm.item.add", block)
        budget.answered()
        a_done.set()

    other = threading.Thread(target=request_a)
    other.start()
    assert a_sent.wait(timeout=20)
    budget.sending({"crm.item.add": 1})
    budget.observe(
        "crm.item.add", {"processing": 5.0, "finish": T + 1, "operating": 10.0, "operating_reset_at": T + 600}
    )
    budget.answered()
    b_done.set()
    assert a_done.wait(timeout=20)
    other.join(timeout=20)
    assert budget._ledgers["crm.item.add"].live() == pytest.approx(10.0)


@pytest.mark.parametrize("before", [0.0, 37.5, 200.0])
def test_a_batch_observed_at_once_plans_as_its_commands_observed_one_by_one(before: float) -> None:
    # 50 commands of two methods in one answer, after time the ledger never saw (another run)
    blocks = []
    used = {"crm.item.add": before, "crm.item.update": 0.0}
    for n in range(50):
        method = "crm.item.add" if n % 5 else "crm.item.update"
        seconds = 0.1 + (n % 7) / 100
        used[method] += seconds
        blocks.append(
            (
                method,
                {
                    "processing": seconds,
                    "finish": T + 30 + n / 10,
                    "operating": used[method],
                    "operating_reset_at": T + 540,
                },
            )
        )
    one_by_one, at_once = Clock(T + 36), Clock(T + 36)
    single, batch = OperatingBudget(one_by_one, limit=480), OperatingBudget(at_once, limit=480)
    for method, block in blocks:
        single.observe(method, block)
    batch.observe_batch(blocks)
    for demand in ({"crm.item.add": 50}, {"crm.item.update": 50}, {"crm.item.add": 2000}):
        assert batch.delay(demand) == pytest.approx(single.delay(demand))
    for clock in (one_by_one, at_once):
        clock.now = T + 601.5  # the first basket expired
    assert batch.delay({"crm.item.add": 4000}) == pytest.approx(single.delay({"crm.item.add": 4000}))


def test_the_last_requests_waiting_for_a_basket_go_together_before_it_expires() -> None:
    import threading

    clock = Clock()
    budget = OperatingBudget(clock)  # 480 s, 1 s of margin
    # eight requests of 42 imports answered within minute 100: 436.8 s that leave at T + 600 (+1 s)
    commands(budget, "crm.item.batchImport", 8 * 42, 1.3, T + 55, 0.0)
    clock.now = T + 100
    demand = {"crm.item.batchImport": 42}
    # the last four requests of 10,000 records wait; 42.2 s of room is left before the expiry
    ready, go, done = threading.Barrier(4), threading.Event(), threading.Event()

    def wait_then_send() -> None:
        budget.waiting(demand)
        ready.wait(timeout=20)
        go.wait(timeout=20)
        budget.sending(demand)  # each goes at the moment the first found (no clock move)
        done.wait(timeout=20)
        budget.answered()

    others = [threading.Thread(target=wait_then_send) for _ in range(3)]
    for thread in others:
        thread.start()
    budget.waiting(demand)
    ready.wait(timeout=20)
    # alone, the first could go at T + 601 - 42.2 and take all the room before the expiry: in the
    # middle of a run it does (more requests follow), but when these are the run's last the three
    # others would still wait for the expiry, and the run end no sooner: together each spends 42.2 / 4
    # s before it
    assert budget.delay(demand) == pytest.approx(T + 601 - 42.2 - clock.now)
    budget.finishing = True
    start = T + 601 - 42.2 / 4
    assert budget.delay(demand) == pytest.approx(start - clock.now)
    clock.now = start
    budget.sending(demand)
    go.set()  # the three others go out now too
    for _ in range(50):
        if len(budget._in_flight) == 4:
            break
        threading.Event().wait(0.05)
    assert len(budget._in_flight) == 4
    # a fifth request would find no room before the expiry: the four have it
    assert budget.delay({"crm.item.batchImport": 1}) == pytest.approx(T + 601 - clock.now)
    done.set()
    for thread in others:
        thread.join(timeout=20)
    budget.answered()


def test_at_the_end_of_a_run_a_request_does_not_take_the_room_the_last_ones_need_together() -> None:
    import threading

    clock = Clock()
    budget = OperatingBudget(clock)
    # the first eight requests of an import that started 9 s before a minute ended: 72.8 s in
    # minute 100 (leaving at T + 601), 364 s in minute 101 (leaving at T + 661)
    used = commands(budget, "crm.item.batchImport", 56, 1.3, T + 59, 0.0)
    commands(budget, "crm.item.batchImport", 280, 1.3, T + 65, used)
    clock.now = T + 100
    demand = {"crm.item.batchImport": 42}
    ready, release = threading.Barrier(4), threading.Event()

    def wait() -> None:
        budget.waiting(demand)
        ready.wait(timeout=20)
        release.wait(timeout=20)
        budget.waiting(None)

    others = [threading.Thread(target=wait) for _ in range(3)]
    for thread in others:
        thread.start()
    budget.waiting(demand)
    ready.wait(timeout=20)
    # in the middle of a run the first goes as soon as it can, 42.2 s before minute 100 leaves
    assert budget.delay(demand) == pytest.approx(T + 601 - 42.2 - clock.now)
    # the last four: going first (and a second one after minute 100 leaves) would leave the other
    # two 19.6 s of room before minute 101 does, so they would start at T + 640.9; all four
    # together share the 115 s of room: each 28.75 s before T + 661
    budget.finishing = True
    assert budget.delay(demand) == pytest.approx(T + 661 - 115 / 4 - clock.now)
    release.set()
    for thread in others:
        thread.join(timeout=20)
