"""Upsert instances that send nothing, in the plan and in the run report.

An instance whose record already matches is ``unchanged``; one matching several records is a
``conflict`` (or ``skipped`` with ``on_conflict: skip``); whatever needs one is ``blocked``; a
``delete`` of ``delete_missing`` waits for ``apply --allow-delete``. Each becomes one entry of the report
without a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from b24sync.pipeline.models import Frozen
from b24sync.report.model import StepResult

UNSENT_METHOD = "upsert"
CONFLICT_CODE = "AMBIGUOUS_MATCH"


class Unsent(Frozen):
    """A step instance that sends nothing: its record is unchanged, it is a conflict (several records
    match), skipped for matching several (``on_conflict: skip``), it depends on a conflict, or it is a
    delete that ``apply --allow-delete`` did not allow."""

    key: str
    step: str
    instance: str | None = None
    action: Literal["unchanged", "conflict", "skipped", "blocked", "delete"]
    record_id: int | None = None
    message: str | None = None


def unsent_results(unsent: Iterable[Unsent]) -> list[StepResult]:
    """Report entries of the instances that sent nothing; deletes ``--allow-delete`` did not allow
    are no instance of the pipeline and stay in the plan only."""
    return [unsent_result(each) for each in unsent if each.action != "delete"]


def unsent_result(unsent: Unsent) -> StepResult:
    """The report entry of an instance that sent nothing: unchanged (succeeded), a conflict (failed),
    or skipped, blocked and not-allowed deletes (skipped)."""
    common: dict[str, Any] = {
        "step": unsent.step,
        "instance": unsent.instance,
        "command_key": unsent.key,
        "method": UNSENT_METHOD,
        "batch_index": 0,
    }
    if unsent.action == "unchanged":
        return StepResult(
            **common,
            status="succeeded",
            summary=f"unchanged (id {unsent.record_id})",
            result={"item": {"id": unsent.record_id}},
        )
    if unsent.action == "conflict":
        return StepResult(
            **common, status="failed", error_code=CONFLICT_CODE, error_description=unsent.message
        )
    return StepResult(**common, status="skipped", skip_reason=unsent.message or "not planned")
