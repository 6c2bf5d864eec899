import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from b24sync.bitrix.results import created_id
from b24sync.errors import UsageError
from b24sync.report.model import (
    SUMMARY_LIMIT,
    BatchResult,
    RunReport,
    StepResult,
    build_totals,
    format_utc,
    recorded_results,
    report_json_schema,
    run_status,
    summarize_result,
)
from tests.helpers.report_samples import mixed_steps, report, step

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report.md"


# Totals and status


def test_totals_are_counted_from_steps_and_batches() -> None:
    batches = [
        BatchResult(index=0, commands=50, attempts=1, duration_s=1.0),
        BatchResult(index=1, commands=7, attempts=3, duration_s=2.0),
    ]
    totals = build_totals(mixed_steps(), batches, retries=2, limit_wait_s=4.5)
    assert totals.model_dump() == {
        "steps": 7,
        "succeeded": 2,
        "failed": 1,
        "skipped": 2,
        "not_run": 1,
        "unknown": 1,
        "commands": 57,
        "requests": 4,
        "retries": 2,
        "limit_wait_s": 4.5,
        "read_requests": 0,
    }


@pytest.mark.parametrize(
    ("statuses", "interrupted", "expected"),
    [
        (["succeeded", "succeeded"], False, "succeeded"),
        ([], False, "succeeded"),
        (["succeeded", "failed"], False, "failed"),
        (["succeeded", "skipped"], False, "failed"),
        (["succeeded", "not_run"], False, "failed"),
        (["succeeded", "unknown"], False, "failed"),
        (["succeeded", "succeeded"], True, "interrupted"),
        (["failed", "not_run"], True, "interrupted"),
    ],
)
def test_run_status_rule(statuses: list[str], interrupted: bool, expected: str) -> None:
    steps = [step(f"s{n}", status) for n, status in enumerate(statuses)]
    assert run_status(steps, interrupted=interrupted) == expected
    assert report(steps, interrupted=interrupted).status == expected


def test_build_report_derives_totals_and_status() -> None:
    built = report(mixed_steps(), retries=1, limit_wait_s=0.5)
    assert built.status == "failed"
    assert (built.totals.steps, built.totals.failed, built.totals.unknown) == (7, 1, 1)
    assert (built.totals.retries, built.totals.limit_wait_s) == (1, 0.5)


def test_hand_counted_totals_that_disagree_are_refused() -> None:
    built = report(mixed_steps())
    wrong = built.model_dump()
    wrong["totals"]["succeeded"] += 1
    with pytest.raises(ValidationError, match="totals do not match"):
        RunReport.model_validate(wrong)


def test_status_that_disagrees_with_the_steps_is_refused() -> None:
    wrong = report(mixed_steps()).model_dump()
    wrong["status"] = "succeeded"
    with pytest.raises(ValidationError, match="does not match the step statuses"):
        RunReport.model_validate(wrong)


def test_repeated_command_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="command_key repeated across steps: a"):
        report([step("a"), step("a")])


# Step entries


def test_failed_and_unknown_steps_need_an_error_code() -> None:
    with pytest.raises(ValidationError, match="a failed step needs an error_code"):
        StepResult(step="a", command_key="a", method="m", status="failed", batch_index=0)
    with pytest.raises(ValidationError, match="a unknown step needs an error_code"):
        StepResult(step="a", command_key="a", method="m", status="unknown", batch_index=0)


def test_empty_error_code_is_a_real_code() -> None:
    # protocol §6.1: old crm.* methods fail with error "".
    assert step("a", "failed", error_code="").error_code == ""


def test_skipped_step_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="a skipped step needs a skip_reason"):
        step("a", "skipped", skip_reason=None)


def test_succeeded_step_carries_no_error() -> None:
    with pytest.raises(ValidationError, match="a succeeded step carries no error_code"):
        step("a", error_code="ERROR_CORE")


def test_summary_is_short() -> None:
    step("a", summary="x" * SUMMARY_LIMIT)
    with pytest.raises(ValidationError, match="at most 200 characters"):
        step("a", summary="x" * (SUMMARY_LIMIT + 1))


def test_step_name_shows_the_instance() -> None:
    assert step("contact", instance="row-3").name == "contact[row-3]"
    assert step("contact").name == "contact"


def test_run_id_must_be_uuid_hex() -> None:
    with pytest.raises(ValidationError, match="run_id"):
        report([], run_id="not-a-uuid")


@pytest.mark.parametrize(
    "moment", ["2024-05-01T12:00:00", "2024-05-01T14:00:00+02:00", "yesterday", "2024-13-01T00:00:00Z"]
)
def test_times_must_be_iso_8601_utc(moment: str) -> None:
    with pytest.raises(ValidationError, match="started_at"):
        report([], started_at=moment)


def test_finish_cannot_precede_start() -> None:
    with pytest.raises(ValidationError, match="finished_at is earlier than started_at"):
        report([], started_at="2024-05-01T12:00:03Z", finished_at="2024-05-01T12:00:02+00:00")


def test_format_utc_gives_the_report_time_text() -> None:
    moment = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_utc(moment) == "2024-05-01T12:00:00.123Z"
    assert report([], started_at=format_utc(moment), finished_at=format_utc(moment)).duration_s == 2.5
    with pytest.raises(UsageError, match="aware datetime"):
        format_utc(datetime(2024, 5, 1))


# Result helpers


def test_summarize_result_keeps_short_results_and_cuts_long_ones() -> None:
    assert summarize_result({"ok": True, "name": "Ёлка"}) == '{"ok":true,"name":"Ёлка"}'
    long = summarize_result(list(range(500)))
    assert len(long) == SUMMARY_LIMIT
    assert long.endswith("…")
    assert long.startswith("[0,1,2,")


@pytest.mark.parametrize(
    ("method", "result", "expected"),
    [
        ("crm.contact.add", 46, 46),  # protocol §9.3
        ("crm.item.add", {"item": {"id": 342, "title": "x"}}, 342),  # protocol §9.2
        ("tasks.task.add", {"task": {"id": "3711"}}, "3711"),  # protocol §9.7
        ("crm.contact.update", True, None),
        ("crm.contact.add", True, None),
        ("crm.item.add", {"item": {"title": "no id"}}, None),
        ("crm.contact.add", [1, 2], None),
    ],
)
def test_created_id(method: str, result: Any, expected: int | str | None) -> None:
    assert created_id(method, result) == expected


def test_recorded_results_are_those_of_succeeded_steps() -> None:
    assert recorded_results(report(mixed_steps())) == {"a": 1, "b": {"task": {"id": "7"}}}


# The documentation cannot drift from the schema


def type_label(prop: dict[str, Any]) -> str:
    """How docs/report.md spells the type of one schema property."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return "any JSON" if name == "JsonValue" else name
    if "const" in prop:
        return f"{prop['type']}, always {prop['const']}"
    if "enum" in prop:
        return f"{prop['type']}: {', '.join(prop['enum'])}"
    if "anyOf" in prop:
        labels = [type_label(option) for option in prop["anyOf"]]
        return ", ".join(labels[:-1]) + " or " + labels[-1]
    if prop["type"] == "array":
        return f"array of {type_label(prop['items'])}"
    return str(prop["type"])


def documented_fields() -> dict[str, dict[str, str]]:
    """Per ``### Model`` section of docs/report.md, field name to its type column."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = re.fullmatch(r"### (\w+)", line)
            current = sections.setdefault(heading.group(1), {}) if heading else None
            continue
        row = re.fullmatch(r"\| `(\w+)` \| ([^|]+) \| .+ \|", line)
        if row and current is not None:
            current[row.group(1)] = row.group(2).strip()
    return sections


def schema_models() -> dict[str, dict[str, Any]]:
    schema = report_json_schema()
    models = {name: model for name, model in schema["$defs"].items() if "properties" in model}
    models[schema["title"]] = schema
    return models


def test_docs_document_every_schema_field_with_its_type() -> None:
    documented = documented_fields()
    for name, model in schema_models().items():
        expected = {field: type_label(prop) for field, prop in model["properties"].items()}
        assert documented.get(name) == expected, f"docs/report.md section '### {name}' is out of date"


def test_docs_document_no_model_that_does_not_exist() -> None:
    models = schema_models()
    for name, fields in documented_fields().items():
        if fields:
            assert name in models, f"docs/report.md documents '{name}', which the report does not have"


def test_docs_fields_appear_in_schema_order() -> None:
    documented = documented_fields()
    for name, model in schema_models().items():
        assert list(documented[name]) == list(model["properties"])
