"""Every report entry a run makes is a valid ``StepResult``.

The executor builds its entries without validation (``StepResult.model_construct``, for speed); what
the model checks (a failure says why, a success carries no error, a skip has its reason) must hold
for every status a run can end a command in, full and lean, plain commands and imported records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

import b24sync
from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.report.model import StepResult
from b24sync.run.executor import execute

PIPELINE = """\
version: 1
name: entries
steps:
  - id: good
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: A}}
  - id: bad
    method: crm.item.add
    params: {fields: {name: no entity type}}
  - id: after_bad
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: B, companyId: "{{ steps.bad.item.id }}"}}
  - id: imported
    for_each: {file: rows.json}
    key: "i{{ item.n }}"
    method: crm.item.add
    mode: import
    params: {entityTypeId: 3, fields: {name: "I{{ item.n }}"}}
  - id: many
    for_each: {file: rows.json}
    key: "m{{ item.n }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "M{{ item.n }}"}}
  - id: late
    depends_on: [after_bad, imported]
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: C}}
"""


def _valid(entries: Any) -> set[str]:
    for entry in entries:
        assert StepResult.model_validate(entry.model_dump()) == entry
    return {entry.status for entry in entries}


def _apply(tmp_path: Path, emu: Emulator, **options: Any) -> Any:
    (tmp_path / "p.yaml").write_text(PIPELINE)
    (tmp_path / "rows.json").write_text(json.dumps([{"n": n} for n in range(60)]))
    return b24sync.apply(tmp_path / "p.yaml", emu, report=tmp_path / "r.json", **options)


@pytest.mark.parametrize("results", ["full", "ids", "none"])
def test_succeeded_failed_and_skipped_entries_are_valid(tmp_path: Path, results: str) -> None:
    run = _apply(tmp_path, Emulator(), halt_on_error=False, report_results=results)
    assert _valid(run.report.steps) == {"succeeded", "failed", "skipped"}


def test_not_run_entries_are_valid(tmp_path: Path) -> None:
    run = _apply(tmp_path, Emulator(), halt_on_error=True)
    assert "not_run" in _valid(run.report.steps)


def test_unknown_entries_are_valid(tmp_path: Path) -> None:
    # every answer an HTML 500: the writes sent are unknown (no pre-flight here to stop at)
    broken = Emulator(fail_rate=1.0, seed=4)
    _apply(tmp_path, Emulator(), halt_on_error=False)  # writes the files
    client = B24Hook(broken.webhook_url, session=broken.mount(requests.Session()), rate_limit=None)
    execution = execute(b24sync.plan(tmp_path / "p.yaml"), client)
    assert "unknown" in _valid(execution.steps)
