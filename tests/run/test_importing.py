"""``mode: import`` applied: one report entry per record, per-record errors, links from later steps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from b24sync import Emulator, apply
from b24sync.errors import UsageError
from b24sync.planning.model import Imported
from b24sync.report.files import read_report
from b24sync.report.model import LEAN_ABOVE, ReportResults, StepResult, step_changes
from b24sync.report.render import render_text
from b24sync.run.importing import per_instance

ROWS = [{"n": f"p{i}", "name": "" if i == 7 else f"Person {i}"} for i in range(45)]
STEPS = [
    {
        "id": "contact",
        "mode": "import",
        "for_each": "{{ vars.rows }}",
        "key": "{{ item.n }}",
        "method": "crm.item.add",
        "params": {"entityTypeId": 3, "fields": {"name": "{{ item.name }}"}},
    },
    {
        "id": "deal",
        "for_each": "{{ vars.rows }}",
        "key": "{{ item.n }}",
        "method": "crm.item.add",
        "params": {
            "entityTypeId": 2,
            "fields": {"title": "D", "contactId": "{{ steps.contact[item.n].item.id }}"},
        },
    },
]


def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "t", "vars": {"rows": ROWS}, "steps": STEPS}))
    return path


def test_each_record_has_its_outcome_and_a_failed_one_fails_alone(tmp_path: Path) -> None:
    emu = Emulator()
    emu.store.require(3, "name")  # the eighth contact has none: the portal refuses that record only
    run = apply(pipeline(tmp_path), emu, contract=False, halt_on_error=False)
    steps = {s.command_key: s for s in run.report.steps}
    contacts = [steps[f"contact_p{i}"] for i in range(45)]
    assert [s.status for s in contacts] == ["succeeded"] * 7 + ["failed"] + ["succeeded"] * 37
    assert contacts[7].error_code == "CRM_FIELD_ERROR_REQUIRED"
    assert [s.created_id for s in contacts[:8]] == [1, 2, 3, 4, 5, 6, 7, None]
    assert contacts[8].created_id == 8 and contacts[8].instance == "p8"
    # the deals link to the ids the import answered; the one whose contact failed fails too
    stored = {record["id"]: record for record in emu.store.items(2)}
    deals = [steps[f"deal_p{i}"] for i in range(45)]
    assert deals[7].status == "failed" and deals[7].error_code == "LINK_MISSING"
    assert all(
        stored[d.created_id]["contactId"] == c.created_id
        for d, c in zip(deals, contacts, strict=True)
        if d is not deals[7]
    )
    by_method = emu.stats()["by_method"]
    assert (by_method["crm.item.batchimport"], by_method["batch"]) == (3, 2)
    assert run.report.totals.failed == 2 and run.report.totals.succeeded == 88


def test_imported_records_are_listed_as_created_in_the_summary(tmp_path: Path) -> None:
    run = apply(pipeline(tmp_path), Emulator(), contract=False)
    changes = {c.step: c for c in step_changes(run.report)}
    assert changes["contact"].created == 45 and changes["contact"].created_ids[:3] == (1, 2, 3)
    assert changes["deal"].created == 45
    summary = render_text(run.report)
    assert re.search(r"contact +45 created \(ids 1, 2, 3,", summary)
    assert re.search(r"deal +45 created", summary)


def test_an_import_of_more_records_than_a_full_report_holds_writes_ids_by_default(tmp_path: Path) -> None:
    # 10,001 records are 501 import commands, but 10,001 report entries: the default counts entries
    rows = [{"n": f"r{i}", "name": f"Person {i}"} for i in range(LEAN_ABOVE + 1)]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    step = {**STEPS[0], "for_each": {"file": "rows.json"}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "t", "steps": [step]}))
    report = tmp_path / "r.json"
    run = apply(path, Emulator(), contract=False, report=report)
    assert run.report.totals.commands == 501 and len(run.report.steps) == LEAN_ABOVE + 1
    written = json.loads(report.read_text())
    assert written["results"] == "ids" and "result" not in written["steps"][0]
    assert read_report(report).steps[-1].created_id == LEAN_ABOVE + 1


@pytest.mark.parametrize("results", ["ids", "none"])
def test_a_lean_report_keeps_each_imported_record_s_outcome(tmp_path: Path, results: ReportResults) -> None:
    # a lean run keeps no results, but each record's outcome is in its import command's answer
    emu = Emulator()
    emu.store.require(3, "name")
    report = tmp_path / "r.json"
    run = apply(
        pipeline(tmp_path), emu, contract=False, halt_on_error=False, report_results=results, report=report
    )
    for entries in (run.report.steps, read_report(report).steps):
        steps = {s.command_key: s for s in entries}
        contacts = [steps[f"contact_p{i}"] for i in range(45)]
        assert [s.status for s in contacts] == ["succeeded"] * 7 + ["failed"] + ["succeeded"] * 37
        assert all(s.result is None for s in contacts)
    ids = [steps[f"contact_p{i}"].created_id for i in range(8)]  # as the file keeps them
    assert ids == ([1, 2, 3, 4, 5, 6, 7, None] if results == "ids" else [None] * 8)
    assert run.report.totals.failed == 2 and run.report.totals.succeeded == 88


def test_a_command_that_fails_whole_fails_each_of_its_records() -> None:
    imported = (Imported(key="contact_a", instance="a"), Imported(key="contact_b", instance="b"))
    outcome = StepResult(
        step="contact",
        command_key="contact_import0",
        method="crm.item.batchImport",
        status="failed",
        batch_index=0,
        error_code="ACCESS_DENIED",
        error_description="Access denied",
    )
    records = per_instance(outcome, imported)
    assert [(r.command_key, r.instance, r.status, r.error_code) for r in records] == [
        ("contact_a", "a", "failed", "ACCESS_DENIED"),
        ("contact_b", "b", "failed", "ACCESS_DENIED"),
    ]


def _batches(emu: Emulator) -> int:
    return int(emu.stats()["by_method"].get("batch", 0))


def _linked(emu: Emulator) -> None:
    """Every row's contact stored once, and each linked by one deal."""
    contacts = [c["id"] for c in emu.store.items(3)]
    names = sorted(str(c["name"] or "") for c in emu.store.items(3))
    assert len(contacts) == 45 and names == sorted(str(r["name"]) for r in ROWS)
    deals = emu.store.items(2)
    assert len(deals) == 45 and sorted(d["contactId"] for d in deals) == sorted(contacts)


@pytest.mark.parametrize("results", ["full", "ids"])
def test_resume_imports_only_the_records_not_created_and_links_to_the_rest(
    tmp_path: Path, results: ReportResults
) -> None:
    emu = Emulator()
    emu.store.require(3, "name")  # the eighth record is refused; the portal's admin fixes it later
    report = tmp_path / "report.json"
    # stopped after the import request: no deal was sent
    first = apply(
        pipeline(tmp_path), emu, contract=False, halt_on_error=False, report=report, report_results=results,
        should_stop=lambda: _batches(emu) >= 1,
    )  # fmt: skip
    assert first.status == "interrupted" and len(emu.store.items(3)) == 44 and not emu.store.items(2)
    emu.store.required[3].remove("name")
    imported = emu.stats()["by_method"]["crm.item.batchimport"]
    again = apply(pipeline(tmp_path), emu, contract=False, report=tmp_path / "again.json", resume=report)
    assert again.status == "succeeded"
    # one import command of the one record left; the deals read the ids of the 44 from the report
    assert emu.stats()["by_method"]["crm.item.batchimport"] == imported + 1
    _linked(emu)
    steps = {s.command_key: s for s in again.report.steps}
    assert steps["contact_p7"].attempts == 1 and steps["contact_p8"].attempts == 0
    answered = {s.command_key: s.created_id for s in first.report.steps}
    assert (
        steps["contact_p8"].created_id == answered["contact_p8"] == 8
    )  # what the first run's import answered


def _drop_answer_of_batch(emu: Emulator, number: int) -> None:
    """The portal runs the ``number``-th batch request, then its answer is lost (a cut connection)."""
    from b24sync.emulator.faults import Fault

    seen = [0]
    original = emu._answer

    def answer(request: Any, where: Any, fault: Fault, meter: Any) -> Any:
        if where.method == "batch":
            seen[0] += 1
            if seen[0] == number:
                fault = Fault(drop=True)
        return original(request, where, fault, meter)

    emu._answer = answer  # type: ignore[method-assign]


KEYED = [
    {**STEPS[0], "params": {"entityTypeId": 3, "fields": {
        "name": "{{ item.name }}", "originatorId": "t", "originId": "{{ item.n }}"}}},
    STEPS[1],
]  # fmt: skip


def test_records_whose_answer_was_lost_are_found_by_their_external_key_on_resume(tmp_path: Path) -> None:
    emu = Emulator()
    _drop_answer_of_batch(emu, 1)  # the import request ran; its answer never came back
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "t", "vars": {"rows": ROWS}, "steps": KEYED}))
    report = tmp_path / "report.json"
    first = apply(path, emu, contract=False, report=report, journal=tmp_path / "run.journal")
    assert len(emu.store.items(3)) == 45
    assert {s.status for s in first.report.steps if s.step == "contact"} == {"unknown"}
    again = apply(path, emu, contract=False, resume=report)
    assert again.status == "succeeded"
    _linked(emu)  # found again by originatorId/originId: not imported twice


def test_lost_import_records_without_an_external_key_ask_what_happened(tmp_path: Path) -> None:
    from b24sync.run.resume import Assume

    emu = Emulator()
    _drop_answer_of_batch(emu, 1)
    report = tmp_path / "report.json"
    apply(pipeline(tmp_path), emu, contract=False, report=report)
    with pytest.raises(UsageError, match=r"45 step\(s\) of .* have an unknown outcome"):
        apply(pipeline(tmp_path), emu, contract=False, resume=report)
    assert len(emu.store.items(3)) == 45  # nothing sent
    with pytest.raises(UsageError, match="--assume-applied"):
        apply(pipeline(tmp_path), emu, contract=False, resume=report, assume=Assume.APPLIED)


def test_a_journal_that_recorded_an_import_command_whole_is_refused(tmp_path: Path) -> None:
    from b24sync.run.journal import JournalWriter, Outcome, journal_path

    emu = Emulator()
    report = tmp_path / "report.json"
    first = apply(pipeline(tmp_path), emu, contract=False, report=report)
    report.unlink()
    writer = JournalWriter(journal_path(report))  # as b24sync 0.2 wrote one: the command whole
    writer.start("r" * 32, {"path": str(pipeline(tmp_path)), "sha256": first.plan.pipeline.sha256}, "t", "x")
    writer.record_sending(1, ["contact_import0"], repeatable=set())
    writer.record_answer(1, {"contact_import0": Outcome("succeeded", {"items": []})})
    writer.close()
    with pytest.raises(UsageError, match=r"recorded a crm\.item\.batchImport command whole"):
        apply(pipeline(tmp_path), emu, contract=False, resume=report)
    assert len(emu.store.items(3)) == 45


UPSERT = """\
version: 1
name: shop
steps:
  - id: contact
    mode: import
    for_each: {file: rows.json}
    key: "{{ item.id }}"
    upsert:
      entity: contact
      match: {originatorId: shop, originId: "{{ item.id }}"}
      fields: {name: "{{ item.name }}"}
  - id: deal
    for_each: {file: rows.json}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 2, fields: {title: "Order {{ item.id }}", contactId: "{{ steps.contact[item.id].id }}"}}
"""


def test_an_upsert_step_imports_its_creates_and_updates_the_rest(tmp_path: Path) -> None:
    import json

    (tmp_path / "rows.json").write_text(json.dumps([{"id": str(i), "name": f"N{i}"} for i in range(30)]))
    (tmp_path / "shop.yaml").write_text(UPSERT)
    emu = Emulator()
    apply(tmp_path / "shop.yaml", emu, contract=False)  # 30 creates, 2 import commands
    rows = [{"id": str(i), "name": "changed" if i == 3 else f"N{i}"} for i in range(45)]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    run = apply(tmp_path / "shop.yaml", emu, contract=False, report=tmp_path / "r.json")
    assert run.report.totals.failed == 0
    by_method = emu.stats()["by_method"]
    assert (by_method["crm.item.batchimport"], by_method["crm.item.update"]) == (2 + 1, 1)
    contacts = {c["originId"]: c for c in emu.store.items(3)}
    assert len(contacts) == 45 and contacts["3"]["name"] == "changed"
    deals = [d for d in emu.store.items(2) if d["title"] == "Order 44"]
    assert deals[-1]["contactId"] == contacts["44"]["id"]
    # the upsert reads its records again, so resuming it cannot create them twice
    apply(tmp_path / "shop.yaml", emu, contract=False, resume=tmp_path / "r.json")
    assert len(emu.store.items(3)) == 45
