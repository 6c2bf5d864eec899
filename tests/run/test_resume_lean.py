"""A run resumed from a lean report (``ids``: the default above 10,000 entries) still names every record
the earlier run created: in its entries, its summary, and the report it writes, full or lean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from b24sync.emulator import Emulator
from b24sync.report.model import ReportResults, step_changes
from b24sync.run.workflow import apply

ROWS = 30
PIPELINE = """\
version: 1
name: lean-resume
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}"}}
  - id: lead
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.lead.add
    params: {fields: {TITLE: "Lead {{ item.name }}"}}
  - id: task
    method: tasks.task.add
    params: {fields: {TITLE: Follow up, RESPONSIBLE_ID: 1}}
"""


def _pipeline(folder: Path) -> Path:
    rows = "".join(f"{i},Person {i}\n" for i in range(ROWS))
    (folder / "rows.csv").write_text("id,name\n" + rows, encoding="utf-8")
    (folder / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    return folder / "p.yaml"


def _created(report: Path) -> dict[tuple[str, Any], Any]:
    entries = json.loads(report.read_text(encoding="utf-8"))["steps"]
    return {(e["step"], e.get("instance")): e.get("created_id") for e in entries}


@pytest.mark.parametrize("again", ["ids", "full"])
def test_a_run_resumed_from_a_lean_report_keeps_the_ids_the_first_run_created(
    tmp_path: Path, again: ReportResults
) -> None:
    pipeline = _pipeline(tmp_path)
    emu = Emulator()
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    def stop_after_the_first_request() -> bool:
        return bool(emu.stats()["by_method"].get("batch"))

    stopped = apply(
        pipeline,
        emu,
        report=first,
        report_results="ids",
        contract=False,
        should_stop=stop_after_the_first_request,
    )
    assert stopped.status == "interrupted"
    before = {name: ident for name, ident in _created(first).items() if ident is not None}
    assert len(before) == 50  # the first batch: 30 contacts and 20 leads

    done = apply(pipeline, emu, report=second, report_results=again, contract=False, resume=first)

    assert done.status == "succeeded"
    after = _created(second)
    assert len(after) == 2 * ROWS + 1 and None not in after.values()
    assert {name: after[name] for name in before} == before  # the same records, not new ones
    for step in ("contact", "lead"):  # each record once: no id given twice within an entity
        assert len({ident for (s, _), ident in after.items() if s == step}) == ROWS
    changes = {change.step: change for change in step_changes(done.report)}
    assert [len(changes[s].created_ids) for s in ("contact", "lead", "task")] == [ROWS, ROWS, 1]
