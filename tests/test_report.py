import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from b24sync.errors import B24SyncError, UsageError
from b24sync.report import (
    SUMMARY_LIMIT,
    BatchResult,
    PipelineRef,
    RunReport,
    StepResult,
    build_report,
    build_totals,
    created_id,
    dump_report,
    format_utc,
    read_report,
    recorded_results,
    report_json_schema,
    run_status,
    summarize_result,
    write_report,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "report.md"
RUN_ID = "5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50"
SECRET_LOOKING = "https://portal.example/rest/1/abc123secretvalue/"


def step(key: str, status: str = "succeeded", **fields: Any) -> StepResult:
    defaults: dict[str, Any] = {"step": key, "command_key": key, "method": "crm.item.add", "batch_index": 0}
    if status in ("failed", "unknown"):
        defaults["error_code"] = "ERROR_CORE"
    if status == "skipped":
        defaults["skip_reason"] = "dep failed"
    return StepResult(**{**defaults, "status": status, **fields})


def report(steps: list[StepResult], **fields: Any) -> RunReport:
    arguments: dict[str, Any] = {
        "run_id": RUN_ID,
        "pipeline": PipelineRef(path="pipelines/seed.yaml", sha256="ab" * 32, git_commit=None),
        "target": "https://portal.example/rest/1/***/",
        "started_at": "2024-05-01T12:00:00.000Z",
        "finished_at": "2024-05-01T12:00:02.500Z",
        "duration_s": 2.5,
        "steps": steps,
        "batches": [BatchResult(index=0, commands=len(steps), attempts=1, duration_s=0.3)],
    }
    return build_report(**{**arguments, **fields})


def mixed_steps() -> list[StepResult]:
    return [
        step("a", created_id=1, result=1, attempts=1),
        step("b", instance="x", created_id="7", result={"task": {"id": "7"}}, attempts=1),
        step("c", "failed", error_code="", error_description="Access denied.", attempts=1),
        step("d", "skipped", skip_reason="c failed"),
        step("e", "skipped", skip_reason="c failed"),
        step("f", "not_run"),
        step("g", "unknown", error_code="OUTCOME_UNKNOWN", error_description="check the portal", attempts=1),
    ]


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
    # reference §6.1: old crm.* methods fail with error "".
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
        ("crm.contact.add", 46, 46),  # reference §9.3
        ("crm.item.add", {"item": {"id": 342, "title": "x"}}, 342),  # reference §9.2
        ("tasks.task.add", {"task": {"id": "3711"}}, "3711"),  # reference §9.7
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


# The JSON file


def test_write_then_read_gives_the_same_report(tmp_path: Path) -> None:
    original = report(
        [*mixed_steps(), step("h", result={"items": [{"ID": "1", "NAME": "Ёжик", "X": None, "Y": 1.5}]})]
    )
    path = tmp_path / "report.json"
    write_report(original, path)
    assert read_report(path) == original


def test_file_is_indented_utf8_json_in_field_order(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_report(report([step("a", result="Ёлка")]), path)
    text = path.read_bytes().decode("utf-8")
    assert "Ёлка" in text
    assert text.startswith('{\n  "schema_version": 1,\n  "run_id": ')
    assert list(json.loads(text)) == list(RunReport.model_fields)
    assert text.endswith("}\n")


def test_lone_surrogate_from_a_portal_survives_the_file(tmp_path: Path) -> None:
    result = json.loads('{"NAME": "broken \\ud800 text"}')
    built = report([step("a", result=result)])
    path = tmp_path / "report.json"
    write_report(built, path)
    path.read_bytes().decode("utf-8")
    assert read_report(path) == built


def test_same_report_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    write_report(report(mixed_steps()), first)
    write_report(report(mixed_steps()), second)
    assert first.read_bytes() == second.read_bytes()


def test_write_leaves_no_temp_file_and_replaces_the_old_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old", encoding="utf-8")
    write_report(report(mixed_steps()), path)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    assert read_report(path).totals.steps == 7


def test_failed_rename_keeps_the_old_file_whole_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.json"
    path.write_text("previous report", encoding="utf-8")

    def refuse(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(UsageError) as caught:
        write_report(report(mixed_steps()), path)
    assert str(caught.value) == f"cannot write report {path}: No space left on device: choose a writable path"
    assert path.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_interrupted_write_removes_the_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.json"

    def interrupt(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_report(report(mixed_steps()), path)
    assert list(tmp_path.iterdir()) == []


def test_write_into_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "report.json"
    with pytest.raises(UsageError, match=re.escape(f"cannot write report {path}: No such file or directory")):
        write_report(report([]), path)


def bad_report_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    valid = report(mixed_steps()).model_dump(mode="json")
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, content: bytes | None, message: str) -> None:
        path = tmp_path / f"{name}.json"
        if content is not None:
            path.write_bytes(content)
        cases[name] = (path, message)

    case("missing", None, "report {path} does not exist: pass a report written by b24sync apply --report")
    case(
        "not_json",
        b'{"schema_version": 1,\n  oops',
        "report {path} is not JSON (line 2 column 3: Expecting property name enclosed in double quotes): "
        "pass a report written by b24sync apply --report",
    )
    case("empty", b"", "report {path} is not JSON (line 1 column 1: Expecting value): pass a report")
    case("latin1", '{"target": "caf\xe9"}'.encode("latin-1"), "report {path} is not UTF-8 text: pass a")
    case("array", b"[1, 2]", "report {path} is not a b24sync run report (not a JSON object): pass a report")
    case(
        "future",
        json.dumps({**valid, "schema_version": 2}).encode(),
        "report {path} has schema_version 2, this b24sync reads 1: use the b24sync version that wrote it",
    )
    case("no_version", b"{}", "report {path} has schema_version null, this b24sync reads 1")
    bad_status = json.loads(json.dumps(valid))
    bad_status["steps"][2]["status"] = "exploded"
    case(
        "bad_status",
        json.dumps(bad_status).encode(),
        "report {path} is not a valid b24sync run report (steps.2.status: Input should be 'succeeded', "
        "'failed', 'skipped', 'not_run' or 'unknown'): pass a report written by b24sync apply --report",
    )
    missing_field = {key: value for key, value in valid.items() if key != "totals"}
    case("missing_field", json.dumps(missing_field).encode(), "(totals: Field required): pass a report")
    extra_field = {**valid, "secret": "x"}
    case("extra_field", json.dumps(extra_field).encode(), "(secret: Extra inputs are not permitted)")
    edited = json.loads(json.dumps(valid))
    edited["totals"]["failed"] = 0
    case("edited_totals", json.dumps(edited).encode(), "(Value error, totals do not match the steps")
    return cases


CASE_NAMES = [
    "missing",
    "not_json",
    "empty",
    "latin1",
    "array",
    "future",
    "no_version",
    "bad_status",
    "missing_field",
    "extra_field",
    "edited_totals",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_read_report_explains_a_bad_file_in_one_line(tmp_path: Path, name: str) -> None:
    path, expected = bad_report_cases(tmp_path)[name]
    with pytest.raises(UsageError) as caught:
        read_report(path)
    message = str(caught.value)
    assert "\n" not in message
    assert expected.format(path=path) in message


def test_read_report_cases_are_all_listed(tmp_path: Path) -> None:
    assert sorted(bad_report_cases(tmp_path)) == sorted(CASE_NAMES)


def test_read_report_of_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=re.escape(f"cannot read report {tmp_path}: Is a directory")):
        read_report(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_read_report_of_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_report(report([]), path)
    path.chmod(0)
    with pytest.raises(UsageError, match=re.escape(f"cannot read report {path}: Permission denied")):
        read_report(path)


def test_read_errors_are_b24sync_errors(tmp_path: Path) -> None:
    with pytest.raises(B24SyncError):
        read_report(tmp_path / "absent.json")


def test_caller_values_are_stored_as_given(tmp_path: Path) -> None:
    # The report layer does not redact: callers redact before building the report.
    described = step("a", "failed", error_description=f"POST {SECRET_LOOKING}crm.item.add failed")
    built = report([described], target=SECRET_LOOKING)
    path = tmp_path / "report.json"
    write_report(built, path)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text)["target"] == SECRET_LOOKING
    assert f"POST {SECRET_LOOKING}crm.item.add failed" in text
    assert read_report(path) == built


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=JSON_VALUES, description=st.text(), instance=st.none() | st.text())
def test_any_result_and_text_survive_the_file(
    tmp_path: Path, result: Any, description: str, instance: str | None
) -> None:
    built = report(
        [
            step("a", result=result, instance=instance),
            step("b", "failed", error_description=description),
        ]
    )
    path = tmp_path / "report.json"
    write_report(built, path)
    assert read_report(path) == built
    assert dump_report(read_report(path)) == dump_report(built)


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
