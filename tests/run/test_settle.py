"""Unknown writes of an earlier run: found again by their key, or settled by the user with their ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import UsageError
from b24sync.report.files import write_report
from b24sync.report.model import PipelineRef, StepResult, build_report
from b24sync.run.executor import UNKNOWN_CODE
from b24sync.run.resume import Assume
from b24sync.run.workflow import apply, plan

PIPELINE = """\
version: 1
name: settle
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme%s}}
  - id: contact
    for_each: [a, b]
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item }}", companyId: "{{ steps.company.item.id }}"}}
"""


def _killed_report(tmp_path: Path, company_fields: str = "") -> tuple[Path, Path]:
    """A pipeline and the report of a run whose company add was sent and its answer lost."""
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE % company_fields, encoding="utf-8")
    the_plan = plan(str(path))
    steps = [
        StepResult(
            step=c.step,
            instance=c.instance,
            command_key=c.key,
            method=c.method,
            status="unknown" if c.step == "company" else "not_run",
            batch_index=0,
            error_code=UNKNOWN_CODE if c.step == "company" else None,
            skip_reason=None if c.step == "company" else "the run stopped",
        )
        for c in the_plan.commands()
    ]
    report = tmp_path / "killed.json"
    write_report(
        build_report(
            run_id="0" * 32,
            pipeline=PipelineRef(path=str(path), sha256=the_plan.pipeline.sha256),
            target="t",
            started_at="2026-01-01T00:00:00Z",
            finished_at="2026-01-01T00:00:01Z",
            duration_s=1,
            steps=steps,
        ),
        report,
    )
    return path, report


def test_assume_applied_needs_the_ids_that_dependents_link_to(tmp_path: Path) -> None:
    emu = Emulator()
    path, report = _killed_report(tmp_path)
    client = B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)
    # what the lost request did, as the user finds it in the portal
    company = client.call_method("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Acme"}}).get_data()
    company_id = company["item"]["id"]
    with pytest.raises(UsageError, match=r"later steps link to company \(company\).*--applied-id company=ID"):
        apply(str(path), emu, resume=str(report), assume=Assume.APPLIED)
    assert emu.store.items(3) == []  # refused before anything was sent
    ids = [f"company={company_id}"]
    done = apply(str(path), emu, resume=str(report), assume=Assume.APPLIED, applied_ids=ids)
    assert done.status == "succeeded"
    assert {item["companyId"] for item in emu.store.items(3)} == {company_id}  # links carry the given id
    assert len(emu.store.items(4)) == 1  # the company was not sent again


def test_an_applied_id_needs_assume_applied_and_a_known_key(tmp_path: Path) -> None:
    path, report = _killed_report(tmp_path)
    with pytest.raises(UsageError, match="pass both"):
        apply(str(path), Emulator(), resume=str(report), applied_ids=["company=77"])
    with pytest.raises(UsageError, match="--applied-id expects KEY=ID"):
        apply(str(path), Emulator(), resume=str(report), assume=Assume.APPLIED, applied_ids=["nope=1"])


@pytest.mark.parametrize("written", [True, False])
def test_an_unknown_add_with_an_external_key_is_looked_up_without_any_flag(
    tmp_path: Path, written: bool
) -> None:
    emu = Emulator()
    path, report = _killed_report(tmp_path, ", originatorId: erp, originId: c-1")
    client = B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)
    created = None
    if written:  # what the lost request did: the company exists
        fields = {"title": "Acme", "originatorId": "erp", "originId": "c-1"}
        created = client.call_method("crm.item.add", {"entityTypeId": 4, "fields": fields}).get_data()
        created = created["item"]["id"]
    done = apply(str(path), emu, resume=str(report))
    assert done.status == "succeeded"
    assert len(emu.store.items(4)) == 1  # exactly one company, whether the lost add had happened or not
    company_id = emu.store.items(4)[0]["id"]
    assert created in (None, company_id)
    assert {item["companyId"] for item in emu.store.items(3)} == {company_id}  # links carry its real id
    entry = next(s for s in done.report.steps if s.step == "company")
    assert entry.created_id == company_id and entry.attempts == (0 if written else 1)
