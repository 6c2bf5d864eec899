"""The streamed JUnit writer gives the bytes xml.etree gave (its former implementation is the oracle)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from b24sync.report.model import RunReport, StepResult
from b24sync.report.render import _details, _error_text, _reason, _xml_text, iter_junit, render_junit
from tests.helpers.report_samples import mixed_steps, report, step


def etree_junit(report: RunReport) -> str:
    """The renderer as it was, through an ElementTree."""
    totals = report.totals
    counts = {
        "tests": str(totals.steps),
        "failures": str(totals.failed + totals.unknown),
        "errors": "0",
        "skipped": str(totals.skipped + totals.not_run),
        "time": f"{report.duration_s:.3f}",
    }
    suites = ET.Element("testsuites", {"name": "b24sync", **counts})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {"name": _xml_text(report.pipeline.path), **counts, "timestamp": report.started_at},
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", report.run_id),
        ("status", report.status),
        ("target", report.target),
        ("sha256", report.pipeline.sha256),
        ("git_commit", report.pipeline.git_commit),
    ):
        if value is not None:
            ET.SubElement(properties, "property", {"name": name, "value": _xml_text(value)})
    for entry in report.steps:
        case = ET.SubElement(
            suite, "testcase", {"name": _xml_text(entry.name), "classname": _xml_text(entry.step)}
        )
        if entry.status in ("failed", "unknown"):
            prefix = "outcome unknown: " if entry.status == "unknown" else ""
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "message": _xml_text(prefix + _error_text(entry)),
                    "type": _xml_text(entry.error_code or '""'),
                },
            )
            failure.text = _details(entry)
        elif entry.status in ("skipped", "not_run"):
            prefix = "not run: " if entry.status == "not_run" else ""
            ET.SubElement(case, "skipped", {"message": _xml_text(prefix + _reason(entry))})
        elif entry.created_id is not None or entry.summary is not None:
            out = ET.SubElement(case, "system-out")
            out.text = _xml_text(
                f"created id {entry.created_id}" if entry.created_id is not None else str(entry.summary)
            )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


texts = st.text(alphabet=st.sampled_from(list("ab <>&\"'\r\n\t\x00\x1fЁ😀]")), min_size=1, max_size=12)


@st.composite
def entries(draw: Any) -> StepResult:
    status = draw(st.sampled_from(["succeeded", "failed", "skipped", "not_run", "unknown"]))
    fields: dict[str, Any] = {"instance": draw(st.none() | texts), "attempts": draw(st.integers(0, 3))}
    if status in ("failed", "unknown"):
        fields["error_code"] = draw(st.sampled_from(["", "ERROR_CORE", "QUERY_LIMIT_EXCEEDED"]))
        fields["error_description"] = draw(st.none() | texts)
    elif status in ("skipped", "not_run"):
        fields["skip_reason"] = draw(texts if status == "skipped" else st.none() | texts)
    else:
        fields["created_id"] = draw(st.none() | st.integers(1, 99))
        fields["summary"] = draw(st.none() | texts)
    return step(draw(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)), status, **fields)


@settings(max_examples=200, deadline=None)
@given(st.lists(entries(), max_size=6, unique_by=lambda entry: entry.command_key), texts, st.none() | texts)
def test_streamed_junit_is_the_element_tree_output(
    steps: list[StepResult], path: str, commit: str | None
) -> None:
    built = report(steps)
    built = built.model_copy(
        update={"pipeline": built.pipeline.model_copy(update={"path": path, "git_commit": commit})}
    )
    assert render_junit(built) == etree_junit(built)


def test_junit_comes_in_one_piece_per_test_case() -> None:
    built = report(mixed_steps())
    pieces = list(iter_junit(built))
    cases = [piece for piece in pieces if piece.startswith("    <testcase ")]
    assert len(cases) == len(built.steps) and all(case.endswith("\n") for case in cases)
    assert "".join(pieces) == etree_junit(built)
