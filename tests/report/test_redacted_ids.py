"""A short secret can appear by chance in what b24sync itself writes (a random run id, a sha256):
``redacted`` leaves those as they are, so the report stays valid, and masks it everywhere else."""

from __future__ import annotations

from b24sync.client.redaction import Redactor
from b24sync.report.model import PipelineRef, StepResult, build_report, redacted


def test_a_secret_inside_the_run_id_or_a_sha256_is_not_masked_there() -> None:
    report = build_report(
        run_id="0abc" + "1" * 28,
        pipeline=PipelineRef(path="p.yaml", sha256="abc" + "0" * 61, data_sha256="f" * 61 + "abc"),
        target="https://x.bitrix24.ru/rest/1/abc/",
        started_at="2026-12-02T00:00:00Z",
        finished_at="2026-12-02T00:00:01Z",
        duration_s=1.0,
        steps=[
            StepResult(
                step="contact",
                command_key="contact",
                method="crm.item.add",
                status="failed",
                batch_index=0,
                attempts=1,
                error_code="",
                error_description="webhook abc refused",
            )
        ],
    )
    clean = redacted(report, Redactor("abc"))
    assert clean.run_id == report.run_id and clean.pipeline.sha256 == report.pipeline.sha256
    assert clean.pipeline.data_sha256 == report.pipeline.data_sha256
    assert clean.steps[0].error_description == "webhook *** refused"
    assert "abc" not in clean.target
