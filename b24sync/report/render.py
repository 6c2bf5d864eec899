"""Renderers of the run report: a terminal summary, Markdown for a CI job summary, JUnit XML.

Each is a pure function of a ``RunReport`` returning text; writing it somewhere is the caller's job.
Markdown and JUnit also come in pieces (``iter_markdown``, ``iter_junit``), so that a writer can stream
a report of 100,000 steps instead of holding one text of all of it. Like
the report itself they show every value exactly as given (see ``b24sync.report.model``: nothing is redacted
here), escaping only what the output format needs.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Sequence

from b24sync.bitrix.advice import advice
from b24sync.pipeline.instances import instance_name
from b24sync.report.model import (
    STEP_STATUSES,
    Entries,
    PlainSuccess,
    RunReport,
    StepChanges,
    StepResult,
    StepStatus,
    step_changes,
    step_counts,
)

MAX_LISTED = 20
MAX_IDS = 10
MAX_TABLE_ROWS = 100

_STATUS_WORDS = {"not_run": "not run"}
_HEADLINE_MARK = {"succeeded": "✅", "failed": "❌", "interrupted": "⚠️"}
_TROUBLED = tuple(status for status in STEP_STATUSES if status != "succeeded")
"""Every status but ``succeeded``: the entries the summaries list."""
# XML 1.0 forbids most control characters even as escapes; a result text may contain them.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
# Line breaks would break the one-line layout and escape sequences could drive the terminal.
_TERMINAL_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]+")


def _word(status: str) -> str:
    return _STATUS_WORDS.get(status, status)


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _line(text: str) -> str:
    return _TERMINAL_CONTROL.sub(" ", text)


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 step``, ``2 steps``; ``plural`` for words that do not just take an s."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def _error_text(step: StepResult) -> str:
    # protocol §6.1: an empty error code is a real, generic code; show it rather than hide it.
    code = step.error_code if step.error_code else '""'
    text = f"{code}: {step.error_description}" if step.error_description else code
    hint = advice(step.error_code, step.method) if step.error_code else None
    return f"{text}; {hint}" if hint else text


def _reason(step: StepResult) -> str:
    return step.skip_reason or "no reason recorded"


def _grouped_by_reason(steps: Iterable[StepResult]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for step in steps:
        groups.setdefault(_reason(step), []).append(step.name)
    return groups


def _some(names: Sequence[str], limit: int) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


_CHANGE_WORDS = (
    ("created", "created"),
    ("updated", "updated"),
    ("unchanged", "unchanged"),
    ("deleted", "deleted"),
    ("deletes_skipped", "deletes skipped"),
)


def _changed(changes: StepChanges) -> bool:
    return any(getattr(changes, field) for field, _ in _CHANGE_WORDS)


def _change_line(changes: StepChanges) -> str:
    """``2 created (ids 1, 2), 1 updated, 0 unchanged, 0 deleted, 1 deletes skipped``."""
    parts = []
    for field, words in _CHANGE_WORDS:
        count = getattr(changes, field)
        text = f"{count} {'delete skipped' if field == 'deletes_skipped' and count == 1 else words}"
        if field == "created" and changes.created_ids:
            ids = [str(each) for each in changes.created_ids]
            text += f" ({'id' if len(ids) == 1 else 'ids'} {_some(ids, MAX_IDS)})"
        if field == "deletes_skipped" and changes.deletes_skipped:
            text += " (no --allow-delete)"
        parts.append(text)
    return ", ".join(parts)


def _requests_line(report: RunReport) -> str:
    totals = report.totals
    return (
        f"{totals.requests + totals.read_requests}: {totals.read_requests} to read the portal, "
        f"{totals.requests} to send {plural(len(report.batches), 'batch', 'batches')} "
        f"({plural(totals.commands, 'command')}); {plural(totals.retries, 'retry', 'retries')}, "
        f"{_seconds(totals.limit_wait_s)} waited for limits"
    )


def render_text(
    report: RunReport, report_path: str | None = None, limit: int = MAX_LISTED, fatal: str | None = None
) -> str:
    """A terminal summary: counts, failed and unknown steps with errors, skips by reason, created ids.

    ``fatal``: the error that stopped the run, printed on its own line after the summary; a not-run
    reason that quotes it points there instead of printing it a second time (the report keeps it whole).
    """
    totals = report.totals
    counts = ", ".join(f"{count} {_word(status)}" for status, count in step_counts(report).items())
    pipeline = report.pipeline
    origin = f"sha256 {pipeline.sha256[:12]}"
    if pipeline.git_commit:
        origin += f", commit {pipeline.git_commit[:12]}"
    lines = [
        f"b24sync: {report.status}: {totals.succeeded} of {plural(totals.steps, 'step')} succeeded "
        f"in {_seconds(report.duration_s)} (run {report.run_id})",
        f"  pipeline  {pipeline.path} ({origin})",
        f"  target    {report.target}",
        f"  steps     {counts}",
        f"  requests  {_requests_line(report)}",
    ]
    loud: tuple[StepStatus, ...] = ("failed", "unknown")
    for status in loud:
        steps = report.step_results(status)
        if steps:
            lines.append(f"{_word(status)} ({len(steps)}):")
            for step in steps[:limit]:
                lines.append(f"  {step.name}  {step.method}  {_error_text(step)}")
            if len(steps) > limit:
                lines.append(f"  ... and {len(steps) - limit} more in the report")
    quiet: tuple[StepStatus, ...] = ("skipped", "not_run")
    for status in quiet:
        steps = report.step_results(status)
        if steps:
            lines.append(f"{_word(status)} ({len(steps)}):")
            for reason, names in _grouped_by_reason(steps).items():
                if fatal and reason.endswith(f": {fatal}"):
                    reason = f"{reason[: -len(fatal) - 2]} (the error below)"
                lines.append(f"  {reason}: {_some(names, limit)}")
    changed = [changes for changes in step_changes(report) if _changed(changes)]
    if changed:
        width = max(len(changes.step) for changes in changed)
        lines.append("changes:")
        for changes in changed:
            lines.append(f"  {changes.step.ljust(width)}  {_change_line(changes)}")
    if report_path is not None:
        lines.append(f"report: {report_path}")
    return "\n".join(_line(line) for line in lines) + "\n"


def markdown_cell(text: str) -> str:
    """``text`` made safe for one GitHub Markdown table cell: no raw HTML, pipes or line breaks."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    return re.sub(r"\r\n|\r|\n", "<br>", escaped)


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def iter_markdown(report: RunReport, max_rows: int = MAX_TABLE_ROWS) -> Iterator[str]:
    """Markdown for a CI job summary, line by line: status heading, totals, the steps that did not succeed."""
    totals = report.totals
    head = [
        f"## {_HEADLINE_MARK[report.status]} b24sync apply {report.status}",
        "",
        f"Pipeline {markdown_cell(report.pipeline.path)} against {markdown_cell(report.target)}, "
        f"{_seconds(report.duration_s)}, run {report.run_id}",
        "",
        _row(["total", "count"]),
        _row(["---", "---:"]),
        _row(["steps", str(totals.steps)]),
        *(_row([_word(status), str(count)]) for status, count in step_counts(report).items()),
        _row(["commands", str(totals.commands)]),
        _row(["requests", str(totals.requests)]),
        _row(["read requests", str(totals.read_requests)]),
        _row(["retries", str(totals.retries)]),
        _row(["waited for limits", _seconds(totals.limit_wait_s)]),
    ]
    yield from (line + "\n" for line in head)
    changed = [changes for changes in step_changes(report) if _changed(changes)]
    if changed:
        yield "\n### Changes\n\n"
        yield _row(["step", *(words for _, words in _CHANGE_WORDS), "created ids"]) + "\n"
        yield _row(["---", *("---:" for _ in _CHANGE_WORDS), "---"]) + "\n"
        for changes in changed[:max_rows]:
            ids = _some([str(each) for each in changes.created_ids], MAX_IDS)
            counts = [str(getattr(changes, field)) for field, _ in _CHANGE_WORDS]
            yield _row([markdown_cell(changes.step), *counts, markdown_cell(ids)]) + "\n"
    troubled = 0
    for step in report.step_results(*_TROUBLED):
        troubled += 1
        if troubled == 1:
            yield "\n### Steps that did not succeed\n\n"
            yield _row(["step", "status", "method", "batch", "error or reason"]) + "\n"
            yield _row(["---", "---", "---", "---:", "---"]) + "\n"
        if troubled <= max_rows:
            why = _error_text(step) if step.status in ("failed", "unknown") else _reason(step)
            cells = [markdown_cell(step.name), _word(step.status), markdown_cell(step.method)]
            yield _row([*cells, str(step.batch_index), markdown_cell(why)]) + "\n"
    if troubled > max_rows:
        yield f"\n... and {troubled - max_rows} more steps in the JSON report.\n"


def render_markdown(report: RunReport, max_rows: int = MAX_TABLE_ROWS) -> str:
    """Markdown for a CI job summary as one text (``iter_markdown`` joined)."""
    return "".join(iter_markdown(report, max_rows))


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _details(step: StepResult) -> str:
    parts = [f"method {step.method}", f"command {step.command_key}", f"batch {step.batch_index}"]
    parts.append(f"attempts {step.attempts}")
    if step.error_description:
        parts.append(step.error_description)
    return _xml_text("\n".join(parts))


def _attribute(text: str) -> str:
    # as xml.etree writes an attribute value (the renderer once built an ElementTree: same bytes)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#09;")
    )


def _element(tag: str, attributes: Iterable[tuple[str, str]], text: str | None = None) -> str:
    opening = "<" + tag + "".join(f' {name}="{_attribute(value)}"' for name, value in attributes)
    if text is None:
        return opening + " />"
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"{opening}>{escaped}</{tag}>"


def _case(name: str, classname: str, inner: str | None) -> str:
    # one test case; ``classname`` given escaped (``iter_junit`` escapes a step's once)
    opening = f'<testcase name="{_attribute(_xml_text(name))}" classname="{classname}"'
    if inner is None:
        return f"    {opening} />\n"
    return f"    {opening}>\n      {inner}\n    </testcase>\n"


def _created(shown: str) -> str:
    return _element("system-out", (), _xml_text(shown))


def _testcase(step: StepResult) -> str:
    inner: str | None = None
    if step.status in ("failed", "unknown"):
        prefix = "outcome unknown: " if step.status == "unknown" else ""
        attributes = (
            ("message", _xml_text(prefix + _error_text(step))),
            ("type", _xml_text(step.error_code or '""')),
        )
        inner = _element("failure", attributes, _details(step))
    elif step.status in ("skipped", "not_run"):
        prefix = "not run: " if step.status == "not_run" else ""
        inner = _element("skipped", (("message", _xml_text(prefix + _reason(step))),))
    elif step.created_id is not None or step.summary is not None:
        inner = _created(
            f"created id {step.created_id}" if step.created_id is not None else str(step.summary)
        )
    return _case(step.name, _attribute(_xml_text(step.step)), inner)


def iter_junit(report: RunReport) -> Iterator[str]:
    """JUnit XML in pieces, one per test case, so that a run of 100,000 steps is never one tree.

    One testsuite for the pipeline, one testcase per step instance named ``step[instance]``.
    """
    totals = report.totals
    counts = (
        ("tests", str(totals.steps)),
        ("failures", str(totals.failed + totals.unknown)),
        ("errors", "0"),
        ("skipped", str(totals.skipped + totals.not_run)),
        ("time", f"{report.duration_s:.3f}"),
    )
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield _element("testsuites", (("name", "b24sync"), *counts))[:-3] + ">\n"
    suite = (("name", _xml_text(report.pipeline.path)), *counts, ("timestamp", report.started_at))
    yield "  " + _element("testsuite", suite)[:-3] + ">\n    <properties>\n"
    for name, value in (
        ("run_id", report.run_id),
        ("status", report.status),
        ("target", report.target),
        ("sha256", report.pipeline.sha256),
        ("git_commit", report.pipeline.git_commit),
    ):
        if value is not None:
            yield "      " + _element("property", (("name", name), ("value", _xml_text(value)))) + "\n"
    yield "    </properties>\n"
    steps = report.steps
    if isinstance(steps, Entries):
        # a plain success is one line of its own: no model is made for it (100,000 took 1.7 s)
        classnames: dict[str, str] = {}
        for entry in steps.lightly():
            if isinstance(entry, PlainSuccess):
                classname = classnames.get(entry.step)
                if classname is None:
                    classname = classnames[entry.step] = _attribute(_xml_text(entry.step))
                shown = None if entry.created_id is None else _created(f"created id {entry.created_id}")
                yield _case(instance_name(entry.step, entry.instance), classname, shown)
            else:
                yield _testcase(entry)
    else:
        yield from (_testcase(step) for step in steps)
    yield "  </testsuite>\n</testsuites>\n"


def render_junit(report: RunReport) -> str:
    """JUnit XML as one text (``iter_junit`` joined)."""
    return "".join(iter_junit(report))


def render_summary_json(report: RunReport, report_path: str | None = None) -> str:
    """The summary of ``render_text`` as one JSON object, for scripts (``apply --format json``)."""
    troubled = [
        {
            "name": step.name,
            "method": step.method,
            "status": step.status,
            "error_code": step.error_code,
            "error_description": step.error_description,
            "skip_reason": step.skip_reason,
        }
        for step in report.step_results(*_TROUBLED)
    ]
    summary = {
        "status": report.status,
        "run_id": report.run_id,
        "pipeline": report.pipeline.model_dump(mode="json"),
        "target": report.target,
        "duration_s": report.duration_s,
        "totals": report.totals.model_dump(mode="json"),
        "changes": [changes.model_dump(mode="json") for changes in step_changes(report)],
        "not_succeeded": troubled,
        "report": report_path,
    }
    return json.dumps(summary, ensure_ascii=False, indent=2)
