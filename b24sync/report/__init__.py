"""The run report: one frozen model of what a run did (``model``), its files (``files``: the one
writer of every file b24sync produces, and the reader of reports) and its renderers (``render``:
terminal text, Markdown, JUnit XML)."""

from b24sync.report.files import read_report, write_report
from b24sync.report.model import BatchResult, PipelineRef, RunReport, StepResult, Totals, build_report
from b24sync.report.render import render_junit, render_markdown, render_text

__all__ = [
    "BatchResult",
    "PipelineRef",
    "RunReport",
    "StepResult",
    "Totals",
    "build_report",
    "read_report",
    "render_junit",
    "render_markdown",
    "render_text",
    "write_report",
]
