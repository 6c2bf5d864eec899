"""``Entries``: a lean run's report entries kept in columns read back as the entries they were
(made as the executor makes them: every field but the default ones given)."""

from __future__ import annotations

from b24sync.report.files import iter_report
from b24sync.report.model import Entries, PipelineRef, StepResult, build_report

ENTRIES = [
    StepResult(
        step="company",
        command_key="company",
        method="crm.item.add",
        status="succeeded",
        batch_index=0,
        attempts=1,
        created_id=1,
    ),
    StepResult(
        step="contact",
        instance="ann@x.org",
        command_key="contact_ann_x_org",
        method="crm.item.add",
        status="succeeded",
        batch_index=0,
        attempts=1,
        created_id=2,
    ),
    StepResult(
        step="contact",
        instance="ann x",
        command_key="contact_ann_x_2",
        method="crm.item.add",
        status="failed",
        batch_index=1,
        attempts=1,
        error_code="",
        error_description="bad phone",
    ),
    StepResult(
        step="contact",
        instance="!!",
        command_key="contact_3",
        method="crm.item.add",
        status="skipped",
        batch_index=1,
        attempts=0,
        skip_reason="depends on company, which failed",
    ),
    StepResult(
        step="task",
        instance="7",
        command_key="task_7",
        method="tasks.task.add",
        status="succeeded",
        batch_index=2,
        attempts=2,
        created_id="77",
    ),
    StepResult(
        step="contact",
        instance="bo",
        command_key="contact_bo",
        method="crm.item.add",
        status="not_run",
        batch_index=2,
        attempts=0,
        skip_reason="interrupted",
    ),
    StepResult(
        step="contact",
        instance="cy",
        command_key="contact_cy",
        method="crm.item.add",
        status="unknown",
        batch_index=2,
        attempts=1,
        error_code="OUTCOME_UNKNOWN",
        error_description="lost",
    ),
]


def test_every_kind_of_entry_reads_back_as_it_was() -> None:
    columns = Entries()
    columns.extend(ENTRIES)
    assert len(columns) == len(ENTRIES)
    assert list(columns) == ENTRIES and columns == ENTRIES
    assert [e.model_fields_set for e in columns] == [e.model_fields_set for e in ENTRIES]
    assert columns[-1] == ENTRIES[-1] and columns[1:3] == tuple(ENTRIES[1:3])
    assert columns.counts() == {"succeeded": 3, "failed": 1, "skipped": 1, "not_run": 1, "unknown": 1}


def test_a_report_of_columns_writes_the_same_file_as_one_of_models() -> None:
    columns = Entries()
    columns.extend(ENTRIES)
    common = {
        "run_id": "0" * 32,
        "pipeline": PipelineRef(path="p.yaml", sha256="0" * 64),
        "target": "https://x.bitrix24.ru/rest/1/***/",
        "started_at": "2026-12-02T00:00:00Z",
        "finished_at": "2026-12-02T00:00:01Z",
        "duration_s": 1.0,
    }
    lean = build_report(steps=columns, **common)  # type: ignore[arg-type]
    whole = build_report(steps=ENTRIES, **common)  # type: ignore[arg-type]
    assert lean.status == whole.status == "failed" and lean.totals == whole.totals
    assert "".join(iter_report(lean, "ids")) == "".join(iter_report(whole, "ids"))
