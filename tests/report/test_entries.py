"""``Entries``: a lean run's report entries kept in columns read back as the entries they were
(made as the executor makes them: every field but the default ones given)."""

from __future__ import annotations

from b24sync.client.redaction import Redactor
from b24sync.pipeline.instances import key_stem
from b24sync.report.files import iter_report
from b24sync.report.model import (
    STEP_STATUSES,
    Entries,
    PipelineRef,
    PlainSuccess,
    StepResult,
    StepStatus,
    build_report,
    lean_entry,
    step_changes,
)
from b24sync.report.render import render_junit, render_markdown, render_summary_json, render_text

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


REPORT = {
    "run_id": "0" * 32,
    "pipeline": PipelineRef(path="p.yaml", sha256="0" * 64),
    "target": "https://x.bitrix24.ru/rest/1/***/",
    "started_at": "2026-12-02T00:00:00Z",
    "finished_at": "2026-12-02T00:00:01Z",
    "duration_s": 1.0,
}
"""Of every report these tests build: all but the entries."""


def test_every_kind_of_entry_reads_back_as_it_was() -> None:
    columns = Entries()
    columns.extend(ENTRIES)
    assert len(columns) == len(ENTRIES)
    assert list(columns) == ENTRIES and columns == ENTRIES
    assert [e.model_fields_set for e in columns] == [e.model_fields_set for e in ENTRIES]
    assert columns[-1] == ENTRIES[-1] and columns[1:3] == tuple(ENTRIES[1:3])
    assert columns.counts() == {"succeeded": 3, "failed": 1, "skipped": 1, "not_run": 1, "unknown": 1}


def test_an_entry_given_by_its_fields_reads_back_as_its_model() -> None:
    # the executor hands a lean entry over as fields; one the columns cannot hold alone is refused
    # and then appended as a model (no instance, a key its name does not give, a text id)
    columns = Entries()
    refused = []
    for e in ENTRIES:
        fields = (e.step, e.instance, e.command_key, e.method, e.status, e.batch_index, e.attempts)
        if not columns.add(*fields, e.created_id, e.error_code, e.error_description, e.skip_reason):
            refused.append(e.command_key)
            columns.append(e)
    assert refused == ["company", "contact_ann_x_2", "contact_3", "task_7"]
    assert list(columns) == ENTRIES
    assert [e.model_fields_set for e in columns] == [e.model_fields_set for e in ENTRIES]
    assert columns.counts() == {"succeeded": 3, "failed": 1, "skipped": 1, "not_run": 1, "unknown": 1}


def test_a_report_of_columns_writes_the_same_file_as_one_of_models() -> None:
    columns = Entries()
    columns.extend(ENTRIES)
    lean = build_report(steps=columns, **REPORT)  # type: ignore[arg-type]
    whole = build_report(steps=ENTRIES, **REPORT)  # type: ignore[arg-type]
    assert lean.status == whole.status == "failed" and lean.totals == whole.totals
    assert "".join(iter_report(lean, "ids")) == "".join(iter_report(whole, "ids"))


def test_the_summaries_read_off_the_columns_are_those_of_the_models() -> None:
    # the terminal summary, Markdown and step_changes pick entries by status off the columns; a
    # model is made only for an entry they list (100,000 of them took a third of an apply's CPU)
    columns = Entries()
    models = [*ENTRIES, *ODD]
    columns.extend(models)
    lean = build_report(steps=columns, **REPORT)  # type: ignore[arg-type]
    whole = build_report(steps=models, **REPORT)  # type: ignore[arg-type]
    for status in STEP_STATUSES:
        assert (
            lean.step_results(status)
            == whole.step_results(status)
            == [e for e in models if e.status == status]
        )
    assert list(columns.succeeded()) == [
        (e.step, e.method, e.created_id) for e in models if e.status == "succeeded"
    ]
    assert step_changes(lean) == step_changes(whole)
    assert [c.created_ids for c in step_changes(lean)] == [(1,), (2, 10, 10, 10, 10), ("77",)]
    troubled: tuple[StepStatus, ...] = ("failed", "unknown", "skipped", "not_run")
    assert lean.step_results(*troubled) == [e for e in models if e.status != "succeeded"]
    assert render_text(lean, "r.json") == render_text(whole, "r.json")
    assert render_markdown(lean) == render_markdown(whole)
    assert render_junit(lean) == render_junit(whole)
    assert render_summary_json(lean, "r.json") == render_summary_json(whole, "r.json")
    for status in ("succeeded", "failed"):
        alike = Entries()
        alike.extend(e for e in models if status == "failed" or e.status == "succeeded")
        assert build_report(steps=alike, **REPORT).status == status  # type: ignore[arg-type]
    light = list(columns.lightly())
    assert sum(isinstance(e, PlainSuccess) for e in light) == 4  # the plain successes
    empty = Entries()
    empty.extend(e for e in ENTRIES if e.status != "failed")
    assert empty.having("failed") == [] and len(empty.having("succeeded")) == 3


ODD = [
    StepResult(
        step="contact",
        instance=name,
        command_key=f"contact_{key_stem(name, 0)}",
        method="crm.item.add",
        status="failed" if "\n" in name else "succeeded",
        batch_index=9,
        attempts=1,
        created_id=None if "\n" in name else 10,
        error_code="" if "\n" in name else None,
        error_description='a "quoted"\ttext, \u0436 and \U0001f600' if "\n" in name else None,
    )
    for name in ['Ann "Q" Öz', "line\nbreak\\", "x" * 60, "a\u2028b", "日本"]
]


def test_a_lean_line_made_from_the_columns_is_the_one_the_model_gives() -> None:
    columns = Entries()
    columns.extend([*ENTRIES, *ODD])
    assert set(columns._special) & set(range(len(ENTRIES), len(columns))) == {
        len(columns) - 1
    }  # only 日本 (no stem)
    for results in ("ids", "none"):
        assert list(columns.lean_lines(results)) == [lean_entry(e, results) for e in [*ENTRIES, *ODD]]


def test_a_secret_in_a_name_or_a_message_is_found_in_the_columns() -> None:
    columns = Entries()
    columns.extend(ENTRIES)
    assert not columns.finds(Redactor("s3cr3t-value").finds)
    named = Entries()
    named.extend(
        [
            *ENTRIES,
            ENTRIES[1].model_copy(update={"instance": "s3cr3t-value", "command_key": "contact_s3cr3t_value"}),
        ]
    )
    assert named.finds(Redactor("s3cr3t-value").finds)
    told = Entries()
    told.extend([*ENTRIES, ENTRIES[2].model_copy(update={"error_description": "token s3cr3t-value refused"})])
    assert told.finds(Redactor("s3cr3t-value").finds)
