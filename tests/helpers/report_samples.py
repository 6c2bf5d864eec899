"""Small run reports for the report tests."""

from typing import Any

from b24sync.report.model import BatchResult, PipelineRef, RunReport, StepResult, build_report

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
