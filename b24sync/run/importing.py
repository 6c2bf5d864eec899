"""One outcome per record of a ``crm.item.batchImport`` command (protocol §9.8b). Pure.

The planner packs the instances of a ``mode: import`` step into ``crm.item.batchImport`` commands
(``b24sync.planning.importing``); the executor runs such a command like any other. This module turns
the command's one ``StepResult`` back into one per instance, in the order of ``data``:
``result.items[i]`` is either ``{"item": {"id": N}}`` (the record was created: ``succeeded`` with
that id, the result a ``crm.item.add`` link reads) or ``{"error", "error_description"}`` (that record
alone ``failed``; its siblings were created regardless). A command that did not succeed as a whole
gives each of its records its own status, error or reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from b24sync.errors import UsageError
from b24sync.planning.model import Imported, Plan
from b24sync.report.model import StepResult

NO_RESULT = "IMPORT_NO_RESULT"
RESUME_REFUSED = (
    "--resume cannot run a pipeline with mode: import steps yet (upsert steps can): the records of a "
    "crm.item.batchImport command are recorded one by one, and the command would be sent whole "
    "again, creating the recorded ones twice. Run the import steps without --resume (left out "
    "with --exclude once they succeeded)"
)


def per_instance(outcome: StepResult, imported: Sequence[Imported]) -> list[StepResult]:
    """The outcome of each record of an import command (``Plan.imports`` of its key); else ``[outcome]``."""
    if not imported:
        return [outcome]
    items = _items(outcome.result) if outcome.status == "succeeded" else None
    results: list[StepResult] = []
    for position, record in enumerate(imported):
        common: dict[str, Any] = {
            "step": outcome.step,
            "instance": record.instance,
            "command_key": record.key,
            "method": outcome.method,
            "batch_index": outcome.batch_index,
            "attempts": outcome.attempts,
        }
        if outcome.status != "succeeded":
            results.append(
                StepResult(
                    **common,
                    status=outcome.status,
                    error_code=outcome.error_code,
                    error_description=outcome.error_description,
                    skip_reason=outcome.skip_reason,
                )
            )
            continue
        element = items[position] if items is not None and position < len(items) else None
        results.append(StepResult(**common, **_element(element, position)))
    return results


def _items(result: Any) -> list[Any] | None:
    items = result.get("items") if isinstance(result, Mapping) else None
    return items if isinstance(items, list) else None


def _element(element: Any, position: int) -> dict[str, Any]:
    """The status, id, result or error of one element of ``items``."""
    if isinstance(element, Mapping):
        item = element.get("item")
        ident = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(ident, (int, str)) and not isinstance(ident, bool):
            return {"status": "succeeded", "created_id": ident, "result": {"item": {"id": ident}}}
        if element.get("error") is not None:
            return {
                "status": "failed",
                "error_code": str(element["error"]),
                "error_description": str(element.get("error_description", "")),
            }
    return {
        "status": "failed",
        "error_code": NO_RESULT,
        "error_description": f"the crm.item.batchImport answer holds no id or error for record {position}",
    }


def refuse_resume(plan: Plan) -> None:
    """``UsageError`` when ``plan`` imports plain creates: resuming one would create records twice."""
    # an upsert's imports are safe: its records are read again, and what was created is found
    if any(c.key in plan.imports and c.action == "call" for c in plan.commands()):
        raise UsageError(RESUME_REFUSED)
