"""Benchmark (run by hand): where ``apply``'s memory goes, phase by phase (issue 16).

    PYTHONPATH=. python tests/bench/bench_memory.py [ROWS] [--window N] [--results full|ids|none]

Runs bench_plan's one-``crm.item.add``-per-row pipeline through the phases of ``apply`` in this
process, against ``b24sync emulator --port 0 --operating-limit off`` (a separate process), with
``tracemalloc`` on: the Python heap held after loading the pipeline, after planning, after executing,
after building the report and while writing it, and the top allocation sites at the end of the run.
tracemalloc slows the run about threefold; the figures are heap bytes, not RSS. ``--window
1000000000 --results full`` is the executor before windows (one window, every result kept).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_plan import write_case
from tests.bench.bench_scale import start_emulator


def mib(size: float) -> str:
    return f"{size / 2**20:8.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", nargs="?", type=int, default=100_000, help="CSV rows (default 100000)")
    parser.add_argument("--window", type=int, help="commands a window (default: the executor's)")
    parser.add_argument(
        "--results", choices=("full", "ids", "none"), default="ids", help="the report's results"
    )
    args = parser.parse_args()
    window, results, rows = args.window, args.results, args.rows
    from b24sync.client.hook import B24Hook
    from b24sync.pipeline import load_pipeline
    from b24sync.planning.planner import plan
    from b24sync.report.files import dump_report
    from b24sync.report.model import PipelineRef, build_report
    from b24sync.run.executor import execute

    with tempfile.TemporaryDirectory() as folder:
        path = write_case(Path(folder), rows, link=False)
        server, url = start_emulator()
        try:
            tracemalloc.start(4)
            base = tracemalloc.get_traced_memory()[0]
            pipeline = load_pipeline(str(path))
            loaded = tracemalloc.get_traced_memory()[0]
            print(f"pipeline instances ({rows:,} rows)   {mib(loaded - base)}")
            the_plan = plan(pipeline)
            planned = tracemalloc.get_traced_memory()[0]
            print(f"plan (commands, params, queries) {mib(planned - loaded)}")
            del pipeline
            gc.collect()
            after_drop = tracemalloc.get_traced_memory()[0]
            print(f"  plan alone, pipeline dropped   {mib(after_drop - base)}")
            tracemalloc.reset_peak()
            options: dict[str, object] = {"results": results}
            if window is not None:
                options["window"] = window
            execution = execute(the_plan, B24Hook(url, rate_limit="off"), **options)
            executed, peak = tracemalloc.get_traced_memory()
            print(
                f"execution (results, StepResults) {mib(executed - after_drop)}  peak during run {mib(peak - base)}"
            )
            snapshot = tracemalloc.take_snapshot()
            report = build_report(
                run_id="0" * 32,
                pipeline=PipelineRef(path="p", sha256="0" * 64),
                target="t",
                started_at="2026-01-01T00:00:00Z",
                finished_at="2026-01-01T00:00:00Z",
                duration_s=0.0,
                steps=execution.steps,
                batches=execution.batches,
            )
            built = tracemalloc.get_traced_memory()[0]
            print(f"report model                     {mib(built - executed)}")
            tracemalloc.reset_peak()
            text = dump_report(report, results)
            dumped, peak = tracemalloc.get_traced_memory()
            print(
                f"report text ({len(text) / 1e6:.1f} MB)            {mib(dumped - built)}  peak while writing {mib(peak - built)}"
            )
            print(f"total held at the end            {mib(dumped - base)}")
        finally:
            server.terminate()
            server.wait()
    print("\ntop allocation sites at the end of the run (by file:line):")
    for stat in snapshot.statistics("lineno")[:12]:
        frame = stat.traceback[0]
        print(
            f"  {mib(stat.size)}  {stat.count:>9,} blocks  {frame.filename.split('b24sync/')[-1]}:{frame.lineno}"
        )


if __name__ == "__main__":
    main()
