"""``--resume`` of a streamed run (issue 16): the resumed run is streamed too, never planned whole, and
finishes with every record exactly once, whether it resumes a report, a killed run's journal, or
commands whose outcome the earlier run could not learn."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import UsageError
from b24sync.planning.model import Command, Plan
from b24sync.run.journal import JournalWriter, Outcome, journal_path
from b24sync.run.resume import Assume
from b24sync.run.workflow import apply, plan

ROWS = 600
WINDOW = 100  # a file of more than two windows of rows is streamed
PIPELINE = """\
version: 1
name: streamed-resume
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
      fields:
        name: "{{ item.name }}"
        originatorId: shop
        originId: "{{ item.id }}"
        companyId: "{{ steps.company.item.id }}"
"""


def _project(folder: Path) -> Path:
    rows = "".join(f"r{i},Name {i}\n" for i in range(ROWS))
    (folder / "rows.csv").write_text("id,name\n" + rows, encoding="utf-8")
    (folder / "sync.yaml").write_text(PIPELINE, encoding="utf-8")
    return folder / "sync.yaml"


def _client(emu: Emulator) -> B24Hook:
    return B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)


def _batches(emu: Emulator) -> int:
    return int(emu.stats()["by_method"].get("batch", 0))


def _contacts(emu: Emulator) -> Counter[str]:
    return Counter(str(item["originId"]) for item in emu.store.items(3))


def _journal(report: Path, whole: Plan, emu: Emulator) -> JournalWriter:
    """The journal a killed run of ``whole`` leaves beside ``report`` (and no report): its first line."""
    writer = JournalWriter(journal_path(report))
    info = {"path": whole.pipeline.path, "sha256": whole.pipeline.sha256}
    writer.start("0" * 32, {**info, "data_sha256": whole.pipeline.data_sha256}, emu.webhook_url, "t")
    return writer


@pytest.mark.parametrize("results", ["ids", "full"])
def test_a_stopped_streamed_run_is_resumed_streamed_with_every_record_once(
    tmp_path: Path, results: Any
) -> None:
    pipeline = _project(tmp_path)
    emu = Emulator()
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    stopped = apply(
        pipeline,
        _client(emu),
        report=first,
        window=WINDOW,
        contract=False,
        report_results=results,
        should_stop=lambda: _batches(emu) >= 3,
    )
    assert stopped.streamed and stopped.status == "interrupted"
    made = {s.command_key: s.created_id for s in stopped.report.steps if s.status == "succeeded"}
    assert len(made) == 150  # three full batches

    before = _batches(emu)
    done = apply(pipeline, _client(emu), report=second, window=WINDOW, contract=False, resume=first)

    assert done.streamed  # planned a window at a time, as the first run was
    assert done.status == "succeeded"
    assert _contacts(emu) == Counter({f"r{i}": 1 for i in range(ROWS)})
    assert len(emu.store.items(4)) == 1
    assert _batches(emu) - before == -(-(ROWS + 1 - 150) // 50)  # the rest, in full batches only
    after = {s.command_key: s.created_id for s in done.report.steps}
    assert len(after) == ROWS + 1 and None not in after.values()
    assert {key: after[key] for key in made} == made  # the first run's records, named again
    company = emu.store.items(4)[0]["id"]
    assert {item["companyId"] for item in emu.store.items(3)} == {company}


def test_a_killed_streamed_run_is_resumed_from_its_journal_and_its_lost_adds_are_found_again(
    tmp_path: Path,
) -> None:
    pipeline = _project(tmp_path)
    emu = Emulator()
    client = _client(emu)
    report = tmp_path / "report.json"
    whole = plan(str(pipeline))
    first, second = whole.batches[0].commands, whole.batches[1].commands
    # the first request was answered; the second was lost on its way back, after the portal made
    # its records
    company = client.call_method("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}})
    company_id = company.get_data()["item"]["id"]

    def add_contact(command: Command) -> int:
        given: Any = command.params
        fields = {**given["fields"], "companyId": company_id}
        made = client.call_method("crm.item.add", {"entityTypeId": 3, "fields": fields})
        return int(made.get_data()["item"]["id"])

    writer = _journal(report, whole, emu)
    writer.record_sending(1, [c.key for c in first], ())
    outcomes = {first[0].key: Outcome("succeeded", {"item": {"id": company_id}})}
    outcomes.update({c.key: Outcome("succeeded", {"item": {"id": add_contact(c)}}) for c in first[1:]})
    writer.record_answer(1, outcomes)
    writer.record_sending(2, [c.key for c in second], ())
    writer.close()
    for command in second:
        add_contact(command)

    done = apply(pipeline, _client(emu), report=report, window=WINDOW, contract=False, resume=report)

    assert done.streamed and done.status == "succeeded"
    assert _contacts(emu) == Counter({f"r{i}": 1 for i in range(ROWS)})  # the lost adds not made again
    assert len(emu.store.items(4)) == 1
    assert {item["companyId"] for item in emu.store.items(3)} == {company_id}
    assert {s.status for s in done.report.steps} == {"succeeded"}


def test_a_killed_streamed_run_whose_linked_add_was_lost_takes_the_id_the_user_gives(tmp_path: Path) -> None:
    pipeline = _project(tmp_path)
    emu = Emulator()
    client = _client(emu)
    report = tmp_path / "report.json"
    whole = plan(str(pipeline))
    writer = _journal(report, whole, emu)
    writer.record_sending(1, [whole.batches[0].commands[0].key], ())  # the company add, its answer lost
    writer.close()
    made = client.call_method("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}}).get_data()
    company_id = made["item"]["id"]

    with pytest.raises(UsageError, match="unknown outcome"):
        apply(
            pipeline, _client(emu), report=tmp_path / "x.json", window=WINDOW, contract=False, resume=report
        )
    with pytest.raises(UsageError, match="--applied-id company="):  # every contact links to its id
        apply(
            pipeline,
            _client(emu),
            report=tmp_path / "x.json",
            window=WINDOW,
            contract=False,
            resume=report,
            assume=Assume.APPLIED,
        )
    assert _batches(emu) == 0  # refused before anything was sent

    done = apply(
        pipeline,
        _client(emu),
        report=report,
        window=WINDOW,
        contract=False,
        resume=report,
        assume=Assume.APPLIED,
        applied_ids=[f"company={company_id}"],
    )

    assert done.streamed and done.status == "succeeded"
    assert len(emu.store.items(4)) == 1  # not made again
    assert _contacts(emu) == Counter({f"r{i}": 1 for i in range(ROWS)})
    assert {item["companyId"] for item in emu.store.items(3)} == {company_id}
    entry = next(s for s in done.report.steps if s.step == "company")
    assert entry.created_id == company_id


def test_a_refused_streamed_resume_names_the_unknown_records_as_the_report_would(tmp_path: Path) -> None:
    # adds without an external key cannot be looked up: the resume is refused, naming them
    # step[instance] (what the user checks in the portal), not by the journal's command keys
    pipeline = _project(tmp_path)
    pipeline.write_text(
        PIPELINE.replace('        originatorId: shop\n        originId: "{{ item.id }}"\n', "")
    )
    emu = Emulator()
    report = tmp_path / "report.json"
    whole = plan(str(pipeline))
    lost = whole.batches[3].commands
    writer = _journal(report, whole, emu)
    writer.record_sending(1, [c.key for c in lost], ())
    writer.close()

    with pytest.raises(UsageError) as refused:
        apply(
            pipeline, _client(emu), report=tmp_path / "x.json", window=WINDOW, contract=False, resume=report
        )

    message = str(refused.value)
    assert f"{len(lost)} step(s)" in message
    names = [f"contact[{c.instance}]" for c in lost[:5]]
    assert f"({', '.join(names)} ...)" in message
    assert lost[0].key not in message
    assert _batches(emu) == 0
