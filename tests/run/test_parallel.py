"""``apply(parallel=N)``: independent batches in flight together, the run otherwise that of a serial one.

The portal is the in-process emulator behind a session that watches every request: which commands it
carries, when it leaves and when its answer is back, and how many are in flight at once.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import UsageError
from b24sync.run.executor import MAX_PARALLEL, PARALLEL_AUTO, execute
from b24sync.run.journal import Outcome
from b24sync.run.workflow import Applied, apply, plan

ROWS = 130
PIPELINE = """\
version: 1
name: parallel
steps:
  - id: company
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: "Company {{ item.id }}"}}
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}"}}
  - id: deal
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 2
      fields: {title: "Deal of {{ steps.contact[item.id].item.name }}"}
  - id: note
    depends_on: [deal]
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: "all deals written"}}
"""
"""Companies and contacts need nothing: their batches are independent. Each deal links to its
contact by a value that does not depend on the order the portal serves requests in (a name, not an
id), so a parallel run must send the very request bodies a serial one does."""


class Watched:
    """The emulator's session, counting requests in flight and logging each send and answer."""

    def __init__(self, emulator: Emulator, meet: int = 0) -> None:
        self.session = emulator.mount(requests.Session())
        self._send = self.session.send
        self.session.send = self.send  # type: ignore[method-assign]
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.bodies: list[bytes] = []
        self.events: list[tuple[str, list[str]]] = []
        # the first ``meet`` batches wait for each other on the wire: a serial run never gets past them
        self.meeting = threading.Barrier(meet, timeout=20) if meet > 1 else None
        self.met = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        data = request.body
        assert isinstance(data, bytes)
        keys = list(json.loads(data).get("cmd", {})) if str(request.url).endswith("/batch") else []
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.bodies.append(data)
            self.events.append(("send", keys))
            meet = self.meeting is not None and keys and self.met < self.meeting.parties
            self.met += bool(meet)
        try:
            if meet:
                assert self.meeting is not None
                self.meeting.wait()
            return self._send(request, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.events.append(("answer", keys))


def _pipeline(folder: Path) -> Path:
    rows = "".join(f"{i},Person {i}\n" for i in range(ROWS))
    (folder / "rows.csv").write_text("id,name\n" + rows, encoding="utf-8")
    (folder / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    return folder / "p.yaml"


def _run(
    folder: Path, name: str, meet: int = 0, portal: Mapping[str, Any] | None = None, **options: Any
) -> tuple[Watched, Applied, Emulator]:
    emulator = Emulator(wall_clock=lambda: 1_800_000_000.0, **(portal or {}))
    watched = Watched(emulator, meet)
    client = B24Hook(
        emulator.webhook_url, session=watched.session, rate_limit=options.pop("rate_limit", None)
    )
    done = apply(
        str(_pipeline(folder)),
        client,
        report=str(folder / f"{name}.json"),
        report_results="full",
        contract=False,
        **options,
    )
    return watched, done, emulator


def _entries(done: Applied) -> list[dict[str, Any]]:
    """The report entries without what the portal chose (ids): those depend on the order it was reached."""
    return [
        step.model_dump(exclude={"created_id", "result", "summary"})
        for step in done.report.steps  # in plan order
    ]


def _stored(emulator: Emulator) -> Counter[str]:
    client = B24Hook(emulator.webhook_url, session=emulator.mount(requests.Session()), rate_limit=None)
    titles: Counter[str] = Counter()
    for entity in (2, 3, 4):
        items = client.call_fast_list_method(
            "crm.item.list",
            {"entityTypeId": entity, "select": ["title", "name"]},
            id_key="id",
            items_key="items",
        ).get_data()
        titles.update(f"{entity}:{item.get('title') or item.get('name')}" for item in items)
    return titles


def test_a_parallel_run_sends_the_serial_requests_and_reports_the_same_entries(tmp_path: Path) -> None:
    serial, one, one_emulator = _run(tmp_path, "serial")
    parallel, many, many_emulator = _run(tmp_path, "parallel", meet=3, parallel=3)
    assert one.status == many.status == "succeeded"
    assert len(one.plan.batches) >= 7  # independent companies and contacts, dependent deals, a note last
    assert serial.most == 1 and parallel.most == 3  # the three first batches met on the wire
    assert Counter(parallel.bodies) == Counter(serial.bodies)  # the same requests, each once
    assert _entries(many) == _entries(one)

    def batches(done: Applied) -> list[tuple[int, int, int]]:
        return [(b.index, b.commands, b.attempts) for b in done.report.batches]

    assert batches(many) == batches(one)  # by batch index, as a serial run reports them
    assert sorted(s.created_id or 0 for s in many.report.steps) == sorted(
        s.created_id or 0 for s in one.report.steps
    )
    assert _stored(many_emulator) == _stored(one_emulator)


@pytest.mark.parametrize("parallel", [2, 4])
def test_requests_in_flight_never_exceed_parallel_and_a_batch_waits_for_what_it_needs(
    tmp_path: Path, parallel: int
) -> None:
    watched, done, _ = _run(tmp_path, "run", meet=parallel, parallel=parallel)
    assert done.status == "succeeded"
    assert watched.most == parallel
    batch_of = {c.key: b.index for b in done.plan.batches for c in b.commands}
    needs = {
        c.key: {
            t for t in (*(link.target for link in c.links), *c.depends_on) if batch_of[t] != batch_of[c.key]
        }
        for c in done.plan.commands()
    }
    assert any(needs.values())
    answered: set[str] = set()
    for kind, keys in watched.events:
        if kind == "answer":
            answered.update(keys)
            continue
        for key in keys:  # every link target and dependency in another batch was answered before
            assert needs[key] <= answered, (key, needs[key] - answered)


class Recorder:
    """A journal that keeps, in order, each request it is told of and what its answer settled."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, str]]] = []

    def record_sending(self, request_id: int, keys: Sequence[str], repeatable: Collection[str]) -> None:
        self.lines.append(("sending", dict.fromkeys(keys, "")))

    def record_answer(self, request_id: int, outcomes: Mapping[str, Outcome]) -> None:
        self.lines.append(("answer", {key: outcome.status for key, outcome in outcomes.items()}))


def test_a_failure_with_halt_on_error_sends_nothing_new_and_the_rest_is_not_run(tmp_path: Path) -> None:
    folder = tmp_path
    _pipeline(folder)
    text = (folder / "p.yaml").read_text(encoding="utf-8")
    # the 7th company is refused by the portal (an unknown entity type); companies go first
    (folder / "p.yaml").write_text(
        text.replace(
            'entityTypeId: 4, fields: {title: "Company {{ item.id }}"}',
            'entityTypeId: "{{ 4 if item.id != \'6\' else 999 }}", fields: {title: "Company {{ item.id }}"}',
        ),
        encoding="utf-8",
    )
    emulator = Emulator(wall_clock=lambda: 1_800_000_000.0)
    watched = Watched(emulator, meet=3)  # the failing batch and the next two are in flight together
    client = B24Hook(emulator.webhook_url, session=watched.session, rate_limit=None)
    the_plan = plan(str(folder / "p.yaml"), client, contract=False)
    journal = Recorder()
    done = execute(the_plan, client, journal=journal, halt_on_error=True, parallel=3)
    statuses = Counter(step.status for step in done.steps)
    assert statuses["failed"] == 1 and statuses["not_run"] > 0
    assert sum(statuses.values()) == len(list(the_plan.commands()))
    # once the failure is settled nothing more goes out; the batches in flight with it settled
    settled = next(i for i, (kind, keys) in enumerate(journal.lines) if keys.get("company_6") == "failed")
    assert [kind for kind, _ in journal.lines[settled:]].count("sending") == 0
    assert len(watched.bodies) >= 3 and statuses["succeeded"] >= 6 + 100
    assert all(kind == "answer" for kind, _ in journal.lines[settled:])


@pytest.mark.parametrize("bad", [-1, 11])
def test_parallel_out_of_range_is_refused_before_anything_is_sent(tmp_path: Path, bad: int) -> None:
    emulator = Emulator()
    watched = Watched(emulator)
    client = B24Hook(emulator.webhook_url, session=watched.session, rate_limit=None)
    with pytest.raises(UsageError, match="from 1 to 10"):
        apply(str(_pipeline(tmp_path)), client, contract=False, parallel=bad)
    assert watched.bodies == []


def test_a_paced_parallel_run_is_never_refused_by_the_bucket(tmp_path: Path) -> None:
    # a small, fast bucket (burst 3, 50 requests/s) that four threads would overrun without pacing
    emulator = Emulator(rate_limit="3/50")
    watched = Watched(emulator, meet=2)
    client = B24Hook(emulator.webhook_url, session=watched.session, rate_limit="3/50")
    done = apply(str(_pipeline(tmp_path)), client, contract=False, parallel=4)
    assert done.status == "succeeded"
    sent = [keys for event, keys in watched.events if event == "send" and keys]
    assert len(sent) == len(done.plan.batches)  # not one request refused and sent again
    # every batch and the pre-flight `scope` call answered 200, not one 503
    assert client.stats.by_status == {200: len(done.plan.batches) + 1}


# a portal whose batch of 50 adds spends 0.2 s on the server, and a client bucket of 20 requests a
# second: one request is on the server for four of the bucket's intervals
SLOW = {"profile": "cloud", "costs": {"add": 0.004, "request": 0.0}}


def test_the_measured_default_keeps_as_many_requests_in_flight_as_the_bucket_feeds_meanwhile(
    tmp_path: Path,
) -> None:
    serial, one, _ = _run(tmp_path, "serial", portal=SLOW, rate_limit="50/20", parallel=1)
    auto, measured, emulator = _run(tmp_path, "auto", portal=SLOW, rate_limit="50/20", parallel=PARALLEL_AUTO)
    assert serial.most == 1
    # ceil(0.2 s / 0.05 s) = 4 once the first answer tells 0.2 s: more than one, never more than 4
    # (plus the few seconds a slow machine adds to a request in flight, counted in whole intervals)
    assert 1 < auto.most <= MAX_PARALLEL
    assert Counter(auto.bodies) == Counter(serial.bodies)  # the same requests, each once
    assert _entries(measured) == _entries(one)  # the report of a serial run, in plan order
    assert measured.report.status == "succeeded"
    assert _stored(emulator)["4:all deals written"] == 1


def test_on_an_instant_portal_the_measured_default_sends_one_request_at_a_time(tmp_path: Path) -> None:
    # a bucket of one request every 10 s once its burst is spent: no answer of the in-process
    # emulator takes that long, so nothing calls for a second request in flight
    watched, done, _ = _run(tmp_path, "auto", rate_limit="200/0.1", parallel=PARALLEL_AUTO)
    assert watched.most == 1
    assert done.report.status == "succeeded"
    assert len([keys for event, keys in watched.events if event == "send" and keys]) == len(done.plan.batches)


def test_before_the_first_answer_a_request_out_one_interval_lets_the_pool_fill(tmp_path: Path) -> None:
    # 600 independent adds (12 batches) on a portal that spends 1.5 s on a batch, a client bucket
    # of one request a second: the first request is still out after one interval, so the nine
    # next go then, all before the first answer (a slow start by 4 and 8 sent only 4 by then)
    _adds(tmp_path, 600)
    emulator = Emulator(profile="cloud", costs={"add": 0.03, "request": 0.0})
    watched = Watched(emulator)
    client = B24Hook(emulator.webhook_url, session=watched.session, rate_limit="50/1")
    done = apply(str(tmp_path / "p.yaml"), client, contract=False, parallel=PARALLEL_AUTO)
    assert done.status == "succeeded"
    batches = [(event, keys) for event, keys in watched.events if keys]
    first_answer = next(i for i, (event, _) in enumerate(batches) if event == "answer")
    assert [event for event, _ in batches[:first_answer]] == ["send"] * MAX_PARALLEL
    assert len([1 for event, _ in batches if event == "send"]) == len(done.plan.batches) == 12


def test_once_the_operating_budget_holds_requests_back_a_refill_is_spent_at_once(tmp_path: Path) -> None:
    # 400 adds (8 batches) on a portal whose batch costs 0.2 s of a budget of 1 s per 10 s, and a
    # bucket of two requests a second: the rate limit alone never calls for a second request in
    # flight (0.2 s on the server, 0.5 s between requests), so until the budget is reached they go
    # one at a time; then the budget decides, and the batches left go together when it comes back
    _adds(tmp_path, 400)
    emulator = Emulator(
        profile="cloud", costs={"add": 0.004, "request": 0.0}, operating_limit=1.0, operating_window=10.0
    )
    watched = Watched(emulator)
    client = B24Hook(
        emulator.webhook_url,
        session=watched.session,
        rate_limit="50/2",
        operating_limit=1.0,
        operating_window=10.0,
    )
    done = apply(str(tmp_path / "p.yaml"), client, contract=False, parallel=PARALLEL_AUTO)
    assert done.status == "succeeded"
    assert emulator.stats()["refused"] == {}  # not one command refused by the budget
    batches = [event for event, keys in watched.events if keys]
    assert batches.count("send") == len(done.plan.batches) == 8
    in_flight, answered, sent_with = 0, 0, []  # requests in flight as each one went, answers by then
    for event in batches:
        in_flight += 1 if event == "send" else -1
        answered += event == "answer"
        if event == "send":
            sent_with.append((in_flight, answered))
    assert [n for n, _ in sent_with[:4]] == [1, 1, 1, 1]  # the rate limit's measure: one at a time
    together = [n for n, answers in sent_with if answers >= 4]
    assert max(together) >= 2  # after the wait for the budget, the batches left go out together


def _adds(folder: Path, rows: int) -> None:
    """``p.yaml``: one independent ``crm.item.add`` of a contact for each of ``rows`` rows."""
    (folder / "rows.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(rows)), encoding="utf-8")
    (folder / "p.yaml").write_text(
        "version: 1\nname: adds\nsteps:\n  - id: contact\n    for_each: {file: rows.csv}\n"
        '    key: "{{ item.id }}"\n    method: crm.item.add\n'
        '    params: {entityTypeId: 3, fields: {name: "Person {{ item.id }}"}}\n',
        encoding="utf-8",
    )
