"""Time building, writing, reading and rendering a 5,000-step run report (run by hand, not by pytest).

    python tests/bench/bench_report.py

Each step carries a crm.item.add-sized result, so the file is as big as a real 5,000-command run's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from b24sync.report.files import read_report, write_report
from b24sync.report.model import BatchResult, PipelineRef, StepResult, build_report
from b24sync.report.render import render_junit, render_markdown, render_text

STEPS = 5000


def item(n: int) -> dict[str, object]:
    # protocol §9.2: the add answer carries every field of the item; about 40 is typical.
    fields: dict[str, object] = {f"ufCrm{k}": f"value {k} of {n}" for k in range(36)}
    return {"item": {"id": n, "title": f"Contact #{n}", "createdTime": "2024-07-18T14:00:14+02:00", **fields}}


def main() -> None:
    started = time.perf_counter()
    steps = [
        StepResult(
            step="contact",
            instance=f"row-{n}",
            command_key=f"contact_{n}",
            method="crm.item.add",
            status="succeeded" if n % 50 else "failed",
            batch_index=n // 50,
            attempts=1,
            created_id=n if n % 50 else None,
            result=item(n) if n % 50 else None,
            error_code=None if n % 50 else "ERROR_CORE",
            error_description=None if n % 50 else "bad e-mail",
        )
        for n in range(STEPS)
    ]
    batches = [BatchResult(index=i, commands=50, attempts=1, duration_s=0.2) for i in range(STEPS // 50)]
    report = build_report(
        run_id="0" * 32,
        pipeline=PipelineRef(path="bench.yaml", sha256="0" * 64),
        target="https://portal.example/rest/1/***/",
        started_at="2024-05-01T12:00:00.000Z",
        finished_at="2024-05-01T12:01:00.000Z",
        duration_s=60.0,
        steps=steps,
        batches=batches,
    )
    built = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "report.json"
        write_report(report, path)
        written = time.perf_counter()
        size = path.stat().st_size
        assert read_report(path) == report
        read = time.perf_counter()
    render_text(report)
    render_markdown(report)
    render_junit(report)
    rendered = time.perf_counter()
    print(f"{STEPS} steps, report file {size / 1e6:.1f} MB")
    print(
        f"build {built - started:.3f} s, write {written - built:.3f} s, read {read - written:.3f} s, "
        f"render text+markdown+junit {rendered - read:.3f} s"
    )


if __name__ == "__main__":
    main()
