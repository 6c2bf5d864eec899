"""``mode: import`` applied: one report entry per record, per-record errors, links from later steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from b24sync import Emulator, apply
from b24sync.errors import UsageError
from b24sync.planning.model import Imported
from b24sync.report.files import read_report
from b24sync.report.model import ReportResults, StepResult
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


def test_resume_is_refused_rather_than_importing_records_twice(tmp_path: Path) -> None:
    emu = Emulator()
    apply(pipeline(tmp_path), emu, contract=False, report=tmp_path / "report.json")
    with pytest.raises(UsageError, match="--resume cannot run a pipeline with mode: import"):
        apply(pipeline(tmp_path), emu, contract=False, resume=tmp_path / "report.json")
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
