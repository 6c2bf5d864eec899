"""``apply`` of a big ``for_each`` data file plans it a window at a time (``planning.streaming``).

What a user must see: the same requests, in the same order, and the same report as the whole plan;
every problem of the file before anything is sent; and a file changed during the run stopping the
run before anything of the changed part is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import DataChanged, PipelineError
from b24sync.pipeline.loader import load_pipeline
from b24sync.planning.planner import plan
from b24sync.planning.streaming import stream_plan
from b24sync.report.model import Entries
from b24sync.run.workflow import apply

ROWS = 1234

STEPS = """\
version: 1
name: streamed
defaults: {batch_size: BATCH}
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
  - id: deal
    method: crm.item.add
    params:
      entityTypeId: 2
      fields: {title: "Deal of {{ steps.company.item.id }} (main)", companyId: "{{ steps.company.item.id }}"}
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.email }}"
    when: "{{ not item.name.endswith('7') }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields:
        name: "{{ item.name | upper }}"
        comments: "of deal {{ steps.deal.item.id }} at {{ steps.company.item.id }}"
        companyId: "{{ steps.company.item.id }}"
"""


def _project(folder: Path, batch_size: int = 50, rows: int = ROWS, text: str = STEPS) -> Path:
    lines = "".join(f"Person {i},p{i}@example.com\n" for i in range(rows))
    (folder / "rows.csv").write_text("name,email\n" + lines, encoding="utf-8")
    path = folder / "p.yaml"
    path.write_text(text.replace("BATCH", str(batch_size)), encoding="utf-8")
    return path


def _run(
    pipeline: Path, report: Path, on_post: Callable[[int], None] | None = None, **options: Any
) -> tuple[list[Any], Any]:
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
    return bodies, done


@pytest.mark.parametrize("batch_size", [50, 7])
@pytest.mark.parametrize("window", [49, 100, 333])
def test_the_streamed_plan_is_the_whole_plan_batch_for_batch(
    tmp_path: Path, window: int, batch_size: int
) -> None:
    pipeline = _project(tmp_path, batch_size)
    whole = plan(load_pipeline(str(pipeline)))
    streamed = stream_plan(load_pipeline(str(pipeline), stream_above=window), window)
    assert streamed is not None
    batches = [*streamed.head.batches, *streamed.rest()]
    assert [b.model_dump() for b in batches] == [b.model_dump() for b in whole.batches]
    assert streamed.commands == sum(len(b.commands) for b in whole.batches)
    assert streamed.batches == len(whole.batches)
    assert len(streamed.head.batches) < len(whole.batches) // 2  # the rest really was made later


@pytest.mark.parametrize("results", ["ids", "full"])
def test_a_streamed_apply_sends_and_reports_what_the_whole_plan_does(tmp_path: Path, results: str) -> None:
    pipeline = _project(tmp_path)
    one_bodies, one = _run(pipeline, tmp_path / "one.json", window=10**9, report_results=results)
    many_bodies, many = _run(pipeline, tmp_path / "many.json", window=100, report_results=results)
    assert not one.streamed and many.streamed
    assert one.status == many.status == "succeeded"
    assert many_bodies == one_bodies  # the same requests, in the same order, with the same values
    commands = 2 + ROWS - ROWS // 10  # the rows ending in 7 are dropped by `when`
    assert len(many_bodies) == -(-commands // 50)  # minimal: ceil(commands / 50)
    assert [s.model_dump() for s in many.report.steps] == [s.model_dump() for s in one.report.steps]
    assert many.report.totals == one.report.totals
    assert isinstance(many.report.steps, Entries) == (results == "ids")
    one_file = (tmp_path / "one.json").read_text(encoding="utf-8")
    many_file = (tmp_path / "many.json").read_text(encoding="utf-8")

    def without_times(text: str) -> list[str]:
        skipped = ('"run_id"', '"started_at"', '"finished_at"', '"duration_s"')
        return [line for line in text.splitlines() if not line.strip().startswith(skipped)]

    assert without_times(many_file) == without_times(one_file)


def test_a_bad_row_at_the_end_of_a_big_file_stops_the_run_before_anything_is_sent(tmp_path: Path) -> None:
    pipeline = _project(tmp_path)
    with (tmp_path / "rows.csv").open("a", encoding="utf-8") as rows:
        rows.write("Last Person,\n")  # no e-mail: the key renders empty
    bodies: list[Any] = []
    with pytest.raises(PipelineError, match="the key must render to non-empty text"):
        bodies, _ = _run(pipeline, tmp_path / "r.json", window=100)
    assert bodies == []


def test_a_duplicate_key_in_a_big_file_names_both_rows(tmp_path: Path) -> None:
    pipeline = _project(tmp_path)
    with (tmp_path / "rows.csv").open("a", encoding="utf-8") as rows:
        rows.write("Again,p3@example.com\n")
    with pytest.raises(
        PipelineError, match=r"duplicate key 'p3@example.com' \(first at for_each .*rows.csv:5"
    ):
        _run(pipeline, tmp_path / "r.json", window=100)


def _change_on_request(rows: Path, number: int, old: str, new: str) -> Any:
    def change(sent: int) -> None:
        if sent == number:
            text = rows.read_text(encoding="utf-8")
            rows.write_text(text.replace(old, new), encoding="utf-8")

    return change


def test_a_key_changed_during_the_run_stops_it_before_that_window_is_sent(tmp_path: Path) -> None:
    pipeline = _project(tmp_path)
    rows = tmp_path / "rows.csv"
    change = _change_on_request(rows, 1, "p900@example.com", "someone.else@example.com")
    bodies, done = _run(pipeline, tmp_path / "r.json", window=100, on_post=change)
    assert isinstance(done.fatal, DataChanged) and "changed during the run" in str(done.fatal)
    assert done.status == "failed"
    sent = "".join(str(body) for body in bodies)
    # the windows before the changed row went out, nothing of its window did (100 commands a window)
    assert "PERSON%20800" in sent and "PERSON%20900" not in sent
    assert not any("someone.else" in str(body) for body in bodies)
    succeeded = done.report.totals.succeeded
    assert 0 < succeeded < 900 and succeeded == done.report.totals.steps


def test_a_value_changed_during_the_run_is_found_before_the_last_window(tmp_path: Path) -> None:
    pipeline = _project(tmp_path)
    rows = tmp_path / "rows.csv"
    change = _change_on_request(rows, 1, "Person 5,", "Persona 5,")  # the same key, another name
    bodies, done = _run(pipeline, tmp_path / "r.json", window=100, on_post=change)
    assert isinstance(done.fatal, DataChanged) and "sha256" in str(done.fatal)
    sent = "".join(str(body) for body in bodies)
    assert "PERSON%201100" in sent and "PERSON%201233" not in sent  # the last window was not sent
    assert done.report.error is not None and "were never planned" in done.report.error


def test_a_pipeline_the_streamed_planner_cannot_prove_is_planned_whole(tmp_path: Path) -> None:
    # a step after the big one: the whole plan places it after the last row
    text = (
        STEPS
        + "  - id: note\n    method: crm.item.add\n    params: {entityTypeId: 4, fields: {title: Done}}\n"
    )
    pipeline = _project(tmp_path, text=text)
    one_bodies, _ = _run(pipeline, tmp_path / "one.json", window=10**9)
    many_bodies, many = _run(pipeline, tmp_path / "many.json", window=100)
    assert not many.streamed and many.status == "succeeded" and many_bodies == one_bodies


@pytest.mark.parametrize("results", ["ids", "full"])
def test_a_stopped_streamed_run_reports_what_a_stopped_whole_run_does(tmp_path: Path, results: str) -> None:
    # the rest of a stopped streamed run is never rendered: its entries come from the names alone
    pipeline = _project(tmp_path)
    runs = []
    for window in (10**9, 100):
        bodies: list[Any] = []
        done = _run(
            pipeline,
            tmp_path / f"{window}.json",
            on_post=bodies.append,
            window=window,
            report_results=results,
            should_stop=lambda bodies=bodies: len(bodies) >= 4,
        )[1]
        runs.append(done)
    whole, streamed = runs
    assert streamed.streamed and whole.status == streamed.status == "interrupted"
    assert [s.model_dump() for s in streamed.report.steps] == [s.model_dump() for s in whole.report.steps]
    not_run = streamed.report.totals.not_run
    assert not_run > 900 and streamed.report.totals.succeeded + not_run == streamed.report.totals.steps
