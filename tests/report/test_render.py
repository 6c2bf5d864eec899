import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from b24sync.report.model import BatchResult, HeldDelete, PipelineRef, RunReport, StepResult, build_report
from b24sync.report.render import (
    markdown_cell,
    render_junit,
    render_markdown,
    render_summary_json,
    render_text,
)
from tests.helpers.report_samples import RUN_ID, SECRET_LOOKING, step


def report(steps: list[StepResult], **fields: Any) -> RunReport:
    arguments: dict[str, Any] = {
        "run_id": RUN_ID,
        "pipeline": PipelineRef(
            path="pipelines/seed.yaml", sha256="0123456789ab" + "0" * 52, git_commit="c" * 40
        ),
        "target": "https://portal.example/rest/1/***/",
        "started_at": "2024-05-01T12:00:00.000Z",
        "finished_at": "2024-05-01T12:00:12.345Z",
        "duration_s": 12.345,
        "steps": steps,
        "batches": [
            BatchResult(index=0, commands=6, attempts=1, duration_s=0.5),
            BatchResult(index=1, commands=2, attempts=2, duration_s=1.5),
        ],
        "retries": 1,
        "limit_wait_s": 1.25,
    }
    return build_report(**{**arguments, **fields})


def seed_run() -> RunReport:
    return report(
        [
            step("company", instance="acme", created_id=5, result=5, method="crm.company.add"),
            step("contact", instance="ann", created_id=12, result=12, method="crm.contact.add"),
            step("contact", "failed", instance="bob", command_key="contact_bob", method="crm.contact.add",
                 error_code="", error_description="Access denied."),
            step("deal", "skipped", instance="bob", skip_reason="contact[bob] failed"),
            step("note", "skipped", instance="bob", skip_reason="contact[bob] failed"),
            step("task", "unknown", error_code="OUTCOME_UNKNOWN", method="tasks.task.add",
                 error_description="the answer was lost after sending: check the portal"),
            step("sync", "not_run", skip_reason="the run stopped after an unknown outcome"),
            step("fields", summary='{"TITLE":{"type":"string"}}', method="crm.deal.fields"),
        ]
    )  # fmt: skip


# Terminal summary


def test_text_summary_counts_and_lists_what_went_wrong() -> None:
    text = render_text(seed_run(), report_path="out/report.json")
    lines = text.splitlines()
    assert lines[0] == (
        "b24sync: failed: 3 of 8 steps succeeded in 12.3 s (run 5f0c6a1e2b3d4c5e8f9a0b1c2d3e4f50)"
    )
    assert "  steps     3 succeeded, 1 failed, 2 skipped, 1 not run, 1 unknown" in lines
    assert (
        "  requests  3: 0 to read the portal, 3 to send 2 batches (8 commands); 1 retry, 1.2 s waited for limits"
        in lines
    )
    assert "  pipeline  pipelines/seed.yaml (sha256 0123456789ab, commit cccccccccccc)" in lines
    # protocol §6.1: an empty error code is shown, not dropped
    assert lines[lines.index("failed (1):") + 1] == '  contact[bob]  crm.contact.add  "": Access denied.'
    assert lines[lines.index("unknown (1):") + 1] == (
        "  task  tasks.task.add  OUTCOME_UNKNOWN: the answer was lost after sending: check the portal"
    )
    assert lines[lines.index("skipped (2):") + 1] == "  contact[bob] failed: deal[bob], note[bob]"
    assert lines[lines.index("not run (1):") + 1] == "  the run stopped after an unknown outcome: sync"
    assert lines[lines.index("changes:") + 1 :][:2] == [
        "  company  1 created (id 5), 0 updated, 0 unchanged, 0 deleted, 0 deletes skipped",
        "  contact  1 created (id 12), 0 updated, 0 unchanged, 0 deleted, 0 deletes skipped",
    ]
    assert lines[-1] == "report: out/report.json"


def test_text_summary_of_a_clean_run_is_short() -> None:
    text = render_text(report([step("a", created_id=1), step("b", created_id=2)]))
    assert text.splitlines()[0].startswith("b24sync: succeeded: 2 of 2 steps succeeded")
    assert "failed (" not in text and "skipped (" not in text
    assert "  a  1 created (id 1), 0 updated, 0 unchanged, 0 deleted, 0 deletes skipped" in text
    assert "report:" not in text


def test_text_summary_caps_long_lists() -> None:
    steps = [step(f"s{n}", "failed", error_code="ERROR_CORE") for n in range(30)]
    steps += [step(f"k{n}", "skipped", skip_reason="s0 failed") for n in range(30)]
    steps += [step(f"c{n}", created_id=n) for n in range(30)]
    lines = render_text(report(steps), limit=5).splitlines()
    start = lines.index("failed (30):")
    assert lines[start + 6] == "  ... and 25 more in the report"
    assert "  s0 failed: k0, k1, k2, k3, k4 and 25 more" in lines
    assert any(line.startswith("  c0   1 created (id 0), 0 updated") for line in lines)


def test_text_summary_neutralises_control_characters() -> None:
    evil = step("a", "failed", error_code="X", error_description="line one\nline two\x1b[2J\x07")
    text = render_text(report([evil]))
    assert "\x1b" not in text and "\x07" not in text
    assert "  a  crm.item.add  X: line one line two [2J " in text.splitlines()


def test_text_summary_of_an_interrupted_run() -> None:
    text = render_text(report([step("a"), step("b", "not_run", skip_reason="interrupted")], interrupted=True))
    assert text.startswith("b24sync: interrupted: 1 of 2 steps succeeded")


def upsert_run() -> RunReport:
    return report(
        [
            step("contact", instance="a", created_id=7, result={"item": {"id": 7}}),
            step("contact", instance="b", method="crm.item.update", command_key="contact_b"),
            step(
                "contact", instance="c", method="upsert", command_key="contact_c", summary="unchanged (id 3)"
            ),
            step(
                "contact", instance="d", method="upsert", command_key="contact_d", summary="unchanged (id 4)"
            ),
            step("old", instance="x", method="crm.item.delete", command_key="old_x"),
            step("list", method="crm.item.list", summary="[]"),
        ],
        read_requests=2,
        held_deletes=[HeldDelete(step="contact", command_key="contact_delete_9", record_id=9)],
    )


def test_the_summary_tells_what_each_step_did_to_the_records() -> None:
    lines = render_text(upsert_run()).splitlines()
    start = lines.index("changes:")
    assert lines[start + 1 : start + 3] == [
        "  contact  1 created (id 7), 1 updated, 2 unchanged, 0 deleted, 1 delete skipped (no --allow-delete)",
        "  old      0 created, 0 updated, 0 unchanged, 1 deleted, 0 deletes skipped",
    ]
    assert not any(line.startswith("  list ") for line in lines[start:])  # a read changes nothing


def test_read_requests_are_counted_apart_from_the_requests_that_send_batches() -> None:
    lines = render_text(upsert_run()).splitlines()
    assert (
        "  requests  5: 2 to read the portal, 3 to send 2 batches (8 commands); 1 retry, 1.2 s waited for limits"
        in lines
    )
    markdown = render_markdown(upsert_run()).splitlines()
    assert "| read requests | 2 |" in markdown and "| requests | 3 |" in markdown


def test_markdown_has_a_changes_table() -> None:
    lines = render_markdown(upsert_run()).splitlines()
    assert "| step | created | updated | unchanged | deleted | deletes skipped | created ids |" in lines
    assert "| contact | 1 | 1 | 2 | 0 | 1 | 7 |" in lines


def test_the_json_summary_has_the_totals_and_the_changes() -> None:
    summary = json.loads(render_summary_json(upsert_run(), report_path="r.json"))
    assert summary["status"] == "succeeded" and summary["report"] == "r.json"
    assert summary["totals"]["read_requests"] == 2 and summary["totals"]["requests"] == 3
    assert summary["changes"][0] == {
        "step": "contact",
        "created": 1,
        "updated": 1,
        "unchanged": 2,
        "deleted": 0,
        "deletes_skipped": 1,
        "created_ids": [7],
    }
    assert summary["not_succeeded"] == []


# Markdown


def test_markdown_has_status_heading_and_totals_table() -> None:
    markdown = render_markdown(seed_run())
    lines = markdown.splitlines()
    assert lines[0] == "## ❌ b24sync apply failed"
    for row in (
        "| steps | 8 |",
        "| succeeded | 3 |",
        "| failed | 1 |",
        "| skipped | 2 |",
        "| not run | 1 |",
        "| unknown | 1 |",
        "| commands | 8 |",
        "| requests | 3 |",
        "| retries | 1 |",
        "| waited for limits | 1.2 s |",
    ):
        assert row in lines
    assert '| contact\\[bob\\] | failed | crm.contact.add | 0 | "": Access denied. |' in lines
    assert "| deal\\[bob\\] | skipped | crm.item.add | 0 | contact\\[bob\\] failed |" in lines
    assert render_markdown(report([step("a")])).splitlines()[0] == "## ✅ b24sync apply succeeded"
    assert "did not succeed" not in render_markdown(report([step("a")]))


def unescaped_pipes(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row))


def test_markdown_cells_escape_pipes_newlines_and_html() -> None:
    nasty = "a | b\nc\r\nd <script>alert(1)</script> & `code` *bold*"
    markdown = render_markdown(report([step("a", "failed", error_code="E|1", error_description=nasty)]))
    rows = [line for line in markdown.splitlines() if line.startswith("| a |")]
    assert len(rows) == 1
    assert unescaped_pipes(rows[0]) == 6
    assert "<script>" not in markdown
    assert "a \\| b<br>c<br>d &lt;script&gt;" in rows[0]
    assert "&amp; \\`code\\` \\*bold\\*" in rows[0]
    assert "E\\|1" in rows[0]


def test_markdown_cell_keeps_plain_text() -> None:
    assert markdown_cell("crm.item.add") == "crm.item.add"
    assert markdown_cell("Ёлка 42") == "Ёлка 42"


def test_markdown_caps_the_table() -> None:
    steps = [step(f"s{n}", "failed", error_code="E") for n in range(12)]
    markdown = render_markdown(report(steps), max_rows=10)
    assert sum(1 for line in markdown.splitlines() if re.match(r"\| s\d+ \|", line)) == 10
    assert "... and 2 more steps in the JSON report." in markdown


# JUnit


def test_junit_parses_and_counts() -> None:
    root = ET.fromstring(render_junit(seed_run()))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for element in (root, suite):
        assert element.get("tests") == "8"
        assert element.get("failures") == "2"
        assert element.get("errors") == "0"
        assert element.get("skipped") == "3"
        assert element.get("time") == "12.345"
    assert suite.get("name") == "pipelines/seed.yaml"
    assert suite.get("timestamp") == "2024-05-01T12:00:00.000Z"
    cases = suite.findall("testcase")
    assert len(cases) == 8
    assert len(suite.findall("testcase/failure")) == 2
    assert len(suite.findall("testcase/skipped")) == 3


def test_junit_testcases_are_step_instances() -> None:
    suite = ET.fromstring(render_junit(seed_run())).find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == [
        "company[acme]",
        "contact[ann]",
        "contact[bob]",
        "deal[bob]",
        "note[bob]",
        "task",
        "sync",
        "fields",
    ]
    assert cases["contact[bob]"].get("classname") == "contact"
    failure = cases["contact[bob]"].find("failure")
    assert failure is not None
    assert failure.get("type") == '""'
    assert failure.get("message") == '"": Access denied.'
    assert "command contact_bob" in (failure.text or "")
    unknown = cases["task"].find("failure")
    assert unknown is not None
    assert unknown.get("message") == (
        "outcome unknown: OUTCOME_UNKNOWN: the answer was lost after sending: check the portal"
    )
    skipped = cases["deal[bob]"].find("skipped")
    assert skipped is not None and skipped.get("message") == "contact[bob] failed"
    not_run = cases["sync"].find("skipped")
    assert not_run is not None
    assert not_run.get("message") == "not run: the run stopped after an unknown outcome"
    assert cases["company[acme]"].findtext("system-out") == "created id 5"
    assert cases["fields"].findtext("system-out") == '{"TITLE":{"type":"string"}}'
    assert list(cases["company[acme]"]) == [cases["company[acme]"].find("system-out")]


def test_junit_properties_identify_the_run() -> None:
    root = ET.fromstring(render_junit(seed_run()))
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties == {
        "run_id": RUN_ID,
        "status": "failed",
        "target": "https://portal.example/rest/1/***/",
        "sha256": "0123456789ab" + "0" * 52,
        "git_commit": "c" * 40,
    }


def test_junit_survives_text_that_xml_cannot_carry() -> None:
    nasty = 'bad \x00\x08 bytes & <tags> "quotes" \ud800 end'
    root = ET.fromstring(render_junit(report([step("a", "failed", error_code="E", error_description=nasty)])))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == 'E: bad \ufffd\ufffd bytes & <tags> "quotes" \ufffd end'


def test_junit_of_a_clean_run_has_no_failures() -> None:
    root = ET.fromstring(render_junit(report([step("a"), step("b")])))
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "0", "0")
    assert root.find("testsuite/testcase/failure") is None


# Caller values are shown as given


def test_renderers_do_not_alter_caller_values() -> None:
    # The report layer does not redact (see b24sync.report.model): a caller's value passes through unchanged.
    description = f"POST {SECRET_LOOKING}crm.item.add failed"
    built = report(
        [step("a", "failed", error_code="E", error_description=description)], target=SECRET_LOOKING
    )
    assert SECRET_LOOKING in render_text(built)
    assert description in render_text(built)
    assert markdown_cell(SECRET_LOOKING) in render_markdown(built)
    assert markdown_cell(description) in render_markdown(built)
    root = ET.fromstring(render_junit(built))
    assert {p.get("name"): p.get("value") for p in root.iter("property")}["target"] == SECRET_LOOKING
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == f"E: {description}"
