"""``apply`` of a big ``mode: import`` data file plans it a window at a time (``planning.streaming``).

What a user must see: the same ``crm.item.batchImport`` requests, in the same order, and the same
report, one entry per record, as the whole plan; a stopped run's records all accounted for; and a
pipeline the streamed planner cannot reproduce exactly planned whole, with the same result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.pipeline.loader import load_pipeline
from b24sync.planning.importing import IMPORT_METHOD
from b24sync.planning.planner import plan
from b24sync.planning.streaming import IMPORT_WINDOW_BATCHES, stream_plan
from b24sync.report.model import Entries
from b24sync.run.workflow import apply
from tests.run.test_importing import _drop_answer_of_batch

ROWS = 2345
"""Rows of the planner's tests; the runs' have more (``RUN_ROWS``): a streamed import's windows hold
at least ``IMPORT_WINDOW_BATCHES`` requests."""
RUN_ROWS = 7777
RUN_BATCH = 7
"""7 import commands a request (140 records): the runs' head is 20 requests, and two windows follow."""

STEPS = """\
version: 1
name: streamed-import
defaults: {batch_size: BATCH}
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "KEY"
    when: "{{ not item.name.endswith('7') }}"
    mode: import
    method: crm.item.add
    params:
      entityTypeId: ENTITY
      fields:
        name: "{{ item.name | upper }}"
        originatorId: bench
        originId: "{{ item.email }}"
"""


def _project(
    folder: Path,
    batch_size: int = 50,
    rows: int = ROWS,
    key: str = "{{ item.email }}",
    entity: str = "3",
) -> Path:
    lines = "".join(f"Person {i},p{i}@example.com\n" for i in range(rows))
    (folder / "rows.csv").write_text("name,email\n" + lines, encoding="utf-8")
    path = folder / "p.yaml"
    text = STEPS.replace("BATCH", str(batch_size)).replace("KEY", key).replace("ENTITY", entity)
    path.write_text(text, encoding="utf-8")
    return path


def _kept(rows: int = RUN_ROWS) -> int:
    return rows - rows // 10 - (rows % 10 > 7)  # the rows ending in 7 are dropped by `when`


def _run_project(folder: Path, **options: Any) -> Path:
    return _project(folder, RUN_BATCH, RUN_ROWS, **options)


def _run(
    pipeline: Path, report: Path, on_post: Callable[[int], None] | None = None, **options: Any
) -> tuple[list[Any], Any, Emulator]:
    """Apply on a fresh emulator with a fixed clock: the batch request bodies sent, and the run."""
    emu = Emulator(wall_clock=lambda: 1_800_000_000.0)
    session = emu.mount(requests.Session())
    original = session.send
    bodies: list[Any] = []

    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if str(request.url).endswith("/batch"):
            bodies.append(request.body)
        if on_post is not None:
            on_post(len(bodies))
        return original(request, **kwargs)

    session.send = send  # type: ignore[method-assign]
    client = B24Hook(emu.webhook_url, session=session, rate_limit=None)
    done = apply(str(pipeline), client, report=str(report), contract=False, **options)
    return bodies, done, emu


@pytest.mark.parametrize("batch_size", [50, 7])
@pytest.mark.parametrize(("window", "least"), [(30, 1), (900, 1), (1000, 1), (30, 2)])
def test_the_streamed_import_plan_is_the_whole_plan_batch_for_batch(
    tmp_path: Path, window: int, least: int, batch_size: int
) -> None:
    pipeline = _project(tmp_path, batch_size)
    whole = plan(load_pipeline(str(pipeline)))
    streamed = stream_plan(load_pipeline(str(pipeline), stream_above=window), window, least=least)
    assert streamed is not None
    batches = [*streamed.head.batches, *streamed.rest()]
    assert [b.model_dump() for b in batches] == [b.model_dump() for b in whole.batches]
    assert streamed.imports == whole.imports  # every record, in its command, in order
    assert {c.method for b in batches for c in b.commands} == {IMPORT_METHOD}
    assert streamed.commands == sum(len(b.commands) for b in whole.batches)
    assert streamed.batches == len(whole.batches)
    assert streamed.entries == _kept(ROWS)
    # the head is the batches of the first `window` records; the rest really was made later
    head = max(-(-window // (20 * min(batch_size, 42))), least)
    assert len(streamed.head.batches) == head < len(whole.batches)


def test_a_streamed_import_s_head_holds_more_requests_than_are_ever_in_flight(tmp_path: Path) -> None:
    pipeline = _run_project(tmp_path)
    streamed = stream_plan(load_pipeline(str(pipeline), stream_above=100), 100)
    assert streamed is not None and len(streamed.head.batches) == IMPORT_WINDOW_BATCHES == 20
    assert streamed.batches == -(-_kept() // 140) == 50


@pytest.mark.parametrize("results", ["ids", "full"])
def test_a_streamed_import_sends_and_reports_what_the_whole_plan_does(tmp_path: Path, results: str) -> None:
    pipeline = _run_project(tmp_path)
    one_bodies, one, one_emu = _run(pipeline, tmp_path / "one.json", window=10**9, report_results=results)
    many_bodies, many, many_emu = _run(pipeline, tmp_path / "many.json", window=100, report_results=results)
    assert not one.streamed and many.streamed
    assert one.status == many.status == "succeeded"
    assert many_bodies == one_bodies  # the same requests, in the same order, with the same values
    assert len(many_bodies) == -(-_kept() // (20 * RUN_BATCH))  # 140 records a request
    assert [s.model_dump() for s in many.report.steps] == [s.model_dump() for s in one.report.steps]
    assert len(many.report.steps) == _kept() and many.report.totals.succeeded == _kept()
    assert isinstance(many.report.steps, Entries) == (results == "ids")
    created = many_emu.store.items(3)
    assert len(created) == _kept() and len(one_emu.store.items(3)) == _kept()
    assert {s.created_id for s in many.report.steps} == {int(item["id"]) for item in created}

    def without_times(path: Path) -> list[str]:
        skipped = ('"run_id"', '"started_at"', '"finished_at"', '"duration_s"')
        text = path.read_text(encoding="utf-8")
        return [line for line in text.splitlines() if not line.strip().startswith(skipped)]

    assert without_times(tmp_path / "many.json") == without_times(tmp_path / "one.json")


@pytest.mark.parametrize("results", ["ids", "full"])
def test_a_stopped_streamed_import_reports_every_record_as_a_stopped_whole_run_does(
    tmp_path: Path, results: str
) -> None:
    # the records of a stopped streamed run that were never made have entries from their names alone
    pipeline = _run_project(tmp_path)
    runs = []
    for window in (10**9, 100):
        bodies: list[Any] = []
        done = _run(
            pipeline,
            tmp_path / f"{window}.json",
            on_post=bodies.append,
            window=window,
            report_results=results,
            # the pre-flight and the head's 20 requests: the rest of the run is never made
            should_stop=lambda bodies=bodies: len(bodies) >= 21,
        )[1]
        runs.append(done)
    whole, streamed = runs
    assert streamed.streamed and whole.status == streamed.status == "interrupted"
    assert [s.model_dump() for s in streamed.report.steps] == [s.model_dump() for s in whole.report.steps]
    totals = streamed.report.totals
    assert totals.succeeded == 20 * 140 and totals.not_run == _kept() - 20 * 140
    assert totals.steps == _kept()


def test_a_streamed_import_journals_each_record_before_it_is_sent(tmp_path: Path) -> None:
    pipeline = _run_project(tmp_path)
    journal = tmp_path / "run.journal"
    journaled: list[list[str]] = []  # the records on disk as each request goes out

    def look(sent: int) -> None:
        if journal.exists():
            lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
            journaled.append([key for line in lines if "sending" in line for key in line["keys"]])

    bodies, done, _ = _run(pipeline, tmp_path / "r.json", on_post=look, window=100, journal=journal)
    assert done.streamed and done.status == "succeeded" and len(bodies) == -(-_kept() // 140)
    on_disk = journaled[-1]
    assert len(on_disk) == len(set(on_disk)) == _kept()  # every record by its own key, once
    assert on_disk[0] == "contact_p0_example_com" and on_disk[-1] == "contact_p7776_example_com"
    for sent in range(len(bodies)):  # each request's records were on disk before it went out
        assert len(journaled[-len(bodies) + sent]) == min(140 * (sent + 1), _kept())


@pytest.mark.parametrize(
    ("key", "entity"),
    [
        (
            "{{ 'import' ~ loop.index0 if loop.index0 == 7000 else item.email }}",
            "3",
        ),  # a key like an import's
        ("{{ item.email }}", "'{{ 3 }}'"),  # a rendered entity could start a new command anywhere
    ],
)
def test_an_import_the_streamed_planner_cannot_reproduce_is_planned_whole(
    tmp_path: Path, key: str, entity: str
) -> None:
    pipeline = _run_project(tmp_path, key=key, entity=entity)
    one_bodies, _, _ = _run(pipeline, tmp_path / "one.json", window=10**9)
    many_bodies, many, _ = _run(pipeline, tmp_path / "many.json", window=100)
    assert not many.streamed and many.status == "succeeded" and many_bodies == one_bodies


def _losing(number: int) -> Emulator:
    """An emulator with a fixed clock that runs the ``number``-th batch request and loses its answer."""
    emu = Emulator(wall_clock=lambda: 1_800_000_000.0)
    _drop_answer_of_batch(emu, number)
    return emu


def _sent(emu: Emulator) -> list[Any]:
    """The batch request bodies ``emu`` is sent from now on."""
    bodies: list[Any] = []
    original = emu._answer

    def answer(request: Any, where: Any, fault: Any, meter: Any) -> Any:
        if where.method == "batch":
            bodies.append(request.body)
        return original(request, where, fault, meter)

    emu._answer = answer  # type: ignore[method-assign]
    return bodies


@pytest.mark.parametrize("lost", [3, 30])  # in the head; in a later window
def test_a_big_import_stopped_by_a_lost_answer_resumes_streamed_as_the_whole_plan_does(
    tmp_path: Path, lost: int
) -> None:
    pipeline = _run_project(tmp_path)
    resumed = []
    for window in (10**9, 100):
        emu = _losing(lost)
        report = tmp_path / f"{window}.json"
        first = apply(
            str(pipeline),
            emu,
            contract=False,
            report=report,
            journal=tmp_path / f"{window}.journal",
            window=100,
        )
        assert first.streamed and first.status != "succeeded"
        # the lost request's records are unknown; found again by their originId, not imported twice
        assert first.report.totals.unknown == 140 and first.report.totals.succeeded == 140 * (lost - 1)
        bodies = _sent(emu)
        again = apply(str(pipeline), emu, contract=False, resume=report, window=window)
        assert again.status == "succeeded" and again.streamed == (window == 100)
        origins = [item["originId"] for item in emu.store.items(3)]
        assert len(origins) == len(set(origins)) == _kept()
        resumed.append((bodies, again))
    (whole_bodies, whole), (streamed_bodies, streamed) = resumed
    assert streamed_bodies == whole_bodies  # what the rest of the import sends: not one record twice
    writes = [body for body in streamed_bodies if b"crm.item.batchImport" in body]
    assert len(writes) == -(-_kept() // 140) - lost  # the lost request's records were found
    assert [s.model_dump() for s in streamed.report.steps] == [s.model_dump() for s in whole.report.steps]
    assert streamed.report.totals.succeeded == _kept()
