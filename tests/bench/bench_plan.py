"""Benchmark (run by hand): plan a 100,000-command pipeline with one link per instance.

    PYTHONPATH=. python tests/bench/bench_plan.py [COMMANDS]

Loads the pipeline once, then prints the wall time of ``plan()`` (keys, graph, batches, encoded
queries) and, in a second run under tracemalloc, its peak Python memory. Target: under 5 s,
memory linear in commands (compare the bytes per command of two sizes).
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from b24sync.pipeline import load_pipeline
from b24sync.planning.planner import plan

PIPELINE = """\
version: 1
name: bench-plan
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Bench}}
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.email }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields:
        name: "{{ item.name }}"
        companyId: "{{ steps.company.item.id }}"
        fm: {n0: {typeId: EMAIL, valueType: WORK, value: "{{ item.email }}"}}
"""


def main() -> None:
    rows = (int(sys.argv[1]) if len(sys.argv) > 1 else 100_000) - 1
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "pipeline.yaml").write_text(PIPELINE)
        lines = ["name,email"] + [f"Person {i},person{i}@example.com" for i in range(rows)]
        (base / "rows.csv").write_text("\n".join(lines) + "\n")
        pipeline = load_pipeline(str(base / "pipeline.yaml"))
    started = time.perf_counter()
    result = plan(pipeline)
    elapsed = time.perf_counter() - started
    commands = len(result.commands())
    batches = len(result.batches)
    del result
    tracemalloc.start()
    plan(pipeline)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"commands={commands} batches={batches} time={elapsed:.2f}s "
        f"peak={peak / 2**20:.1f}MiB ({peak / commands:.0f} bytes/command)"
    )


if __name__ == "__main__":
    main()
