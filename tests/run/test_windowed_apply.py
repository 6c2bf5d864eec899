"""``apply`` runs a plan window by window: with links across windows it sends exactly what one window does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.planning.windows import cut_windows
from b24sync.run.executor import Progress
from b24sync.run.workflow import apply

ROWS = 120

PIPELINE = """\
version: 1
name: windows
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields: {name: "{{ item.name }}", companyId: "{{ steps.company.item.id }}"}
  - id: deal
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 2
      fields:
        title: "Deal of {{ steps.contact[item.id].item.name }}"
        contactId: "{{ steps.contact[item.id].item.id }}"
        companyId: "{{ steps.company.item.id }}"
"""


def _pipeline(folder: Path) -> Path:
    rows = "".join(f"{i},Person {i}\n" for i in range(ROWS))
    (folder / "rows.csv").write_text("id,name\n" + rows, encoding="utf-8")
    (folder / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    return folder / "p.yaml"


def _run(pipeline: Path, report: Path, **options: Any) -> tuple[list[Any], list[dict[str, Any]], Any]:
    """Apply on a fresh emulator with a fixed clock: the request bodies sent, the report entries, the run."""
    emu = Emulator(wall_clock=lambda: 1_800_000_000.0)
    session = emu.mount(requests.Session())
    original = session.send
    bodies: list[Any] = []

    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if str(request.url).endswith("/batch"):  # the batches (not the pre-flight `scope`)
            bodies.append(request.body)
        return original(request, **kwargs)

    session.send = send  # type: ignore[method-assign]
    client = B24Hook(emu.webhook_url, session=session, rate_limit=None)
    done = apply(str(pipeline), client, report=str(report), report_results="full", contract=False, **options)
    entries = [step.model_dump() for step in done.report.steps]
    return bodies, entries, done


def test_a_two_window_pipeline_with_links_across_windows_sends_and_gets_what_one_window_does(
    tmp_path: Path,
) -> None:
    pipeline = _pipeline(tmp_path)
    one_bodies, one_entries, one = _run(pipeline, tmp_path / "one.json", window=10**9)
    small = 130  # the deals of the second window link to contacts (and the company) of the first
    windows = cut_windows(one.plan.batches, small)
    assert len(windows) == 2 and windows[0].keep and windows[1].commands
    many_bodies, many_entries, many = _run(pipeline, tmp_path / "many.json", window=small)
    assert one.status == many.status == "succeeded"
    assert many_bodies == one_bodies  # the same requests, in the same order, with the same values
    assert len(many_bodies) == -(-(1 + 2 * ROWS) // 50)  # minimal: ceil(commands / 50)
    assert many_entries == one_entries  # the same results, entry by entry
    deal = next(e for e in many_entries if e["command_key"].startswith("deal") and "119" in e["command_key"])
    assert deal["result"]["item"]["title"] == "Deal of Person 119"


def test_windows_of_one_batch_still_give_the_same_report(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    _, one_entries, _ = _run(pipeline, tmp_path / "one.json", window=10**9)
    bodies, entries, done = _run(pipeline, tmp_path / "many.json", window=1)
    assert done.status == "succeeded" and entries == one_entries and len(bodies) == 5


def _stop_and_resume(
    folder: Path, window: int, progress: list[Progress] | None = None
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Stop after two requests (one window of 60), then resume from the report: every request body, the
    final entries (``progress``: what the resumed run reported after each request)."""
    pipeline = _pipeline(folder)
    emu = Emulator(wall_clock=lambda: 1_800_000_000.0)
    session = emu.mount(requests.Session())
    original = session.send
    bodies: list[Any] = []

    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if str(request.url).endswith("/batch"):  # the batches (not the pre-flight `scope`)
            bodies.append(request.body)
        return original(request, **kwargs)

    session.send = send  # type: ignore[method-assign]
    client = B24Hook(emu.webhook_url, session=session, rate_limit=None)
    report = folder / f"r{window}.json"
    options: dict[str, Any] = {"report": str(report), "contract": False, "window": window}
    # the first run's stop signal stays raised: the resumed run on the same client must not see it
    stopped = apply(str(pipeline), client, should_stop=lambda: len(bodies) >= 2, **options)
    assert stopped.status == "interrupted" and len(bodies) == 2
    done = apply(
        str(pipeline),
        client,
        resume=str(report),
        on_progress=None if progress is None else progress.append,
        **options,
    )
    assert done.status == "succeeded"
    return bodies, [step.model_dump() for step in done.report.steps]


def test_a_windowed_run_stopped_between_windows_resumes_with_the_links_of_the_first(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    one_bodies, one_entries = _stop_and_resume(tmp_path / "one", 10**9)
    many_bodies, many_entries = _stop_and_resume(tmp_path / "many", 60)
    assert many_bodies == one_bodies and len(many_bodies) == 5
    assert many_entries == one_entries
    deals = [e for e in many_entries if e["command_key"].startswith("deal") and e["status"] == "succeeded"]
    assert len(deals) == ROWS and deals[-1]["result"]["item"]["title"] == f"Deal of Person {ROWS - 1}"


def test_a_resumed_windowed_run_counts_each_command_once_in_its_progress(tmp_path: Path) -> None:
    # the 100 commands the first run settled count as done from the start, each later one once
    # it settles, whatever window it is in
    for window in (10**9, 60):
        (tmp_path / str(window)).mkdir()
        progress: list[Progress] = []
        _stop_and_resume(tmp_path / str(window), window, progress)
        assert [p.commands_done for p in progress] == [150, 200, 1 + 2 * ROWS]
        assert {p.commands_total for p in progress} == {1 + 2 * ROWS}
