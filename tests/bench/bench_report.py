"""Time building, writing, reading and rendering a big run report (run by hand, not by pytest).

    PYTHONPATH=. python tests/bench/bench_report.py [STEPS]     # default 100000

Each succeeded step carries a crm.item.add-sized result, so a ``full`` file is as big as a real run's.
Prints the write time and file size of each ``--report-results`` form (``full``, ``ids``, ``none``),
the CPU and fresh page faults of writing the full file in pieces (as b24sync does) against one text,
the write time of the former encoder (``json.dumps(indent=2)`` of ``model_dump``) for comparison,
the read time of the full file and the render times. Target (issue 16): the 100,000-row ``ids``
report under 15 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from b24sync.report.files import _dump, dump_report, read_report, write_output, write_report
from b24sync.report.model import BatchResult, PipelineRef, ReportResults, StepResult, build_report
from b24sync.report.render import iter_junit, render_markdown, render_text


def item(n: int) -> dict[str, object]:
    # protocol §9.2: the add answer carries every field of the item; about 40 is typical.
    fields: dict[str, object] = {f"ufCrm{k}": f"value {k} of {n}" for k in range(36)}
    return {"item": {"id": n, "title": f"Contact #{n}", "createdTime": "2024-07-18T14:00:14+02:00", **fields}}


def cpu_and_faults(work: Callable[[], object]) -> tuple[float, int]:
    """The CPU seconds (user + system) and minor page faults of this process during ``work()``."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    work()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return cpu, after.ru_minflt - before.ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=100_000, help="report entries (default 100000)")
    count = parser.parse_args().count
    started = time.perf_counter()
    steps = [
        StepResult(
            step="contact",
            instance=str(n),
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
        for n in range(count)
    ]
    batches = [BatchResult(index=i, commands=50, attempts=1, duration_s=0.2) for i in range(count // 50)]
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
    print(f"{count:,} steps, built in {built - started:.2f} s")
    with tempfile.TemporaryDirectory() as directory:
        # the full file as written (a chunk of entries at a time) against one text of the whole
        # report, in turn: CPU (user + system) and the pages the kernel mapped fresh for it
        path = Path(directory) / "report.json"
        ways: dict[str, Callable[[], object]] = {
            "pieces": lambda: write_report(report, path, "full"),
            "one text": lambda: write_output(path, _dump(report), what="report"),
        }
        for _ in range(2):
            for name, way in ways.items():
                cpu, faults = cpu_and_faults(way)
                print(f"write full ({name:<8}): {cpu * 1000:7.1f} ms CPU, {faults:6,} page faults")
    before = time.perf_counter()
    # ``methods`` is written in lean reports only
    old = json.dumps(report.model_dump(mode="json", exclude={"methods"}), ensure_ascii=False, indent=2) + "\n"
    print(f"former encoder (json.dumps indent=2): {time.perf_counter() - before:.2f} s")
    assert dump_report(report, "full") == old, "the fast encoder must give the same bytes"
    del old
    with tempfile.TemporaryDirectory() as directory:
        modes: tuple[ReportResults, ...] = ("full", "ids", "none")
        for results in modes:
            path = Path(directory) / f"report-{results}.json"
            before = time.perf_counter()
            write_report(report, path, results)
            written = time.perf_counter() - before
            print(f"write {results:<4}: {written:5.2f} s, {path.stat().st_size / 1e6:6.1f} MB")
        before = time.perf_counter()
        read_report(Path(directory) / "report-full.json")
        print(f"read full: {time.perf_counter() - before:.2f} s")
    before = time.perf_counter()
    render_text(report)
    render_markdown(report)
    for _ in iter_junit(report):
        pass
    print(f"render text+markdown+junit (streamed): {time.perf_counter() - before:.2f} s")


if __name__ == "__main__":
    main()
