import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b24sync.errors import B24SyncError, UsageError
from b24sync.report.files import dump_report, read_entries, read_report, write_output, write_report
from b24sync.report.model import BatchResult, RunReport
from tests.helpers.report_samples import SECRET_LOOKING, mixed_steps, report, step


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
    # every field in the model's order; ``methods`` is a lean report's only (what its entries leave out)
    assert list(json.loads(text)) == [name for name in RunReport.model_fields if name != "methods"]
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


def test_write_output_names_what_it_writes(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_output(path, "<testsuites/>\n", what="JUnit file")
    assert path.read_text(encoding="utf-8") == "<testsuites/>\n"
    missing = tmp_path / "no" / "x.xml"
    with pytest.raises(UsageError, match=re.escape(f"cannot write JUnit file {missing}: No such file")):
        write_output(missing, "x", what="JUnit file")


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
    case("no_version", b"{}", "report {path} has no schema_version, so it is not a run report: pass a")
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


def test_a_text_holding_a_secret_is_refused_whole(tmp_path: Path) -> None:
    from b24sync.client.redaction import Redactor

    path = tmp_path / "out.txt"
    path.write_text("old\n")
    redact = Redactor("hunter2-secret")
    # in one piece, and split across two pieces: neither reaches the file, the old file stays whole
    assert not write_output(path, ["a\n", "x hunter2-secret y\n"], what="report", refuse=redact)
    assert not write_output(path, ["a\n", "x hunter2", "-secret y\n"], what="report", refuse=redact)
    assert not write_output(path, ["hunter2-", "s", "ecret"], what="report", refuse=redact)
    assert path.read_text() == "old\n"
    assert not write_output(path, ["a\n", "hunter2-secret"], what="summary", append=True, refuse=redact)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert write_output(path, ["hunter2", "\n", "secret"], what="report", refuse=redact)
    assert path.read_text() == "hunter2\nsecret"


def test_a_report_holding_a_secret_in_a_result_is_not_written(tmp_path: Path) -> None:
    from b24sync.client.redaction import Redactor
    from b24sync.report.model import redacted

    leaky = report([step("a", "succeeded", result={"item": {"id": 1, "name": "echo hunter2-secret"}})])
    path = tmp_path / "report.json"
    redact = Redactor("hunter2-secret")
    assert not write_report(leaky, path, "full", refuse=redact)
    assert not path.exists()
    assert write_report(redacted(leaky, redact), path, "full", refuse=redact)
    assert "hunter2-secret" not in path.read_text() and "echo ***" in path.read_text()


# -- read_entries: a report a line at a time (``--resume`` of a million commands) ---------------


@pytest.mark.parametrize("results", ["full", "ids", "none"])
def test_read_entries_gives_the_entries_read_report_gives(tmp_path: Path, results: Any) -> None:
    path = tmp_path / "report.json"
    write_report(report(mixed_steps()), path, results)
    whole = read_report(path)
    read = read_entries(path)
    assert read.pipeline == whole.pipeline and read.target == whole.target
    assert [s.model_dump() for s in read.entries] == [s.model_dump() for s in whole.steps]


def test_read_entries_reads_a_lean_report_of_many_requests_a_line_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a million commands went out in 20,000 requests: six lines each before the first entry
    steps = [step(f"s{n}", batch_index=n, attempts=1, created_id=n + 1) for n in range(3000)]
    batches = [BatchResult(index=n, commands=1, attempts=1, duration_s=0.1) for n in range(3000)]
    path = tmp_path / "report.json"
    write_report(report(steps, batches=batches), path, "ids")
    monkeypatch.setattr("b24sync.report.files.read_report", lambda *_: pytest.fail("read whole"))
    assert [s.created_id for s in read_entries(path).entries] == list(range(1, 3001))


def _lean_lines(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "report.json"
    write_report(report(mixed_steps()), path, "ids")
    return path, path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_read_entries_names_the_line_of_a_damaged_entry(tmp_path: Path) -> None:
    path, lines = _lean_lines(tmp_path)
    number = next(n for n, line in enumerate(lines, start=1) if '"status":"failed"' in line)
    lines[number - 1] = lines[number - 1].replace('"status":"failed"', '"status":"exploded"')
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        list(read_entries(path).entries)
    message = str(caught.value)
    assert "\n" not in message
    assert f"report {path} line {number} is not a report entry (status: Input should be" in message


def test_read_entries_refuses_a_report_cut_short(tmp_path: Path) -> None:
    path, lines = _lean_lines(tmp_path)
    end = max(n for n, line in enumerate(lines) if line.startswith("  ],"))  # the end of the entries
    path.write_text("".join(lines[: end - 1]), encoding="utf-8")  # as a full disk leaves it
    with pytest.raises(
        UsageError, match=r"ends after \d+ entries without the end of a report \(cut short\?\)"
    ):
        list(read_entries(path).entries)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_read_entries_explains_a_bad_file_as_read_report_does(tmp_path: Path, name: str) -> None:
    path, expected = bad_report_cases(tmp_path)[name]
    with pytest.raises(UsageError) as caught:
        list(read_entries(path).entries)
    assert expected.format(path=path) in str(caught.value)
