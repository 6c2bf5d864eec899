"""Benchmark (run by hand): load and render a pipeline whose for_each reads a 100,000-row CSV.

    PYTHONPATH=. python tests/bench/bench_load.py [ROWS]

Prints the wall time of ``load_pipeline``, then its peak Python memory (tracemalloc) measured in a
second run, because tracing slows Python down.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from b24sync.pipeline import load_pipeline

PIPELINE = """\
version: 1
name: bench-load
vars: {stage: NEW}
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Bench}}
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.email }}"
    when: "{{ item.email != '' }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields:
        name: "{{ item.name }}"
        comments: "Imported row {{ loop.index }} of {{ loop.length }}"
        stageId: "{{ vars.stage }}"
        companyId: "{{ steps.company.item.id }}"
        fm: {n0: {typeId: EMAIL, valueType: WORK, value: "{{ item.email }}"}}
"""


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "pipeline.yaml").write_text(PIPELINE)
        lines = ["name,email"] + [f"Person {i},person{i}@example.com" for i in range(rows)]
        (base / "rows.csv").write_text("\n".join(lines) + "\n")
        started = time.perf_counter()
        pipeline = load_pipeline(str(base / "pipeline.yaml"))
        elapsed = time.perf_counter() - started
        del pipeline
        tracemalloc.start()
        pipeline = load_pipeline(str(base / "pipeline.yaml"))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    instances = sum(len(step.expansion.instances) for step in pipeline.steps)
    print(
        f"rows={rows} instances={instances} time={elapsed:.2f}s peak={peak / 2**20:.1f}MiB "
        f"({peak / max(rows, 1):.0f} bytes/row)"
    )


if __name__ == "__main__":
    main()
