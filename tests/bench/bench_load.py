"""Benchmark (run by hand): load a pipeline whose for_each reads a big CSV file or SQL query.

    PYTHONPATH=. python tests/bench/bench_load.py [ROWS]            # time and tracemalloc peak, CSV
    PYTHONPATH=. python tests/bench/bench_load.py --rss [ROWS [MODE...]]  # peak RSS of each way of reading

The default prints the wall time of ``load_pipeline``, then its peak Python memory (tracemalloc)
measured in a second run, because tracing slows Python down.

``--rss`` runs each measurement in a fresh process and prints its peak resident set size
(``ru_maxrss``), so that the figures can be compared with each other:

- ``python``: the interpreter with b24sync imported, nothing read;
- ``rows-held``: every row of the source read into a list (what one copy of the rows costs);
- ``rows-streamed``: every row read and dropped (what reading costs when nothing keeps the rows);
- ``load``: ``load_pipeline`` of a step over the source, whose instances keep one rendered copy;
- ``load-counted``: the same with ``loop.length`` in a template, which makes the loader hold the rows
  until they are counted;
- ``plan``: ``load_pipeline`` and the planner (commands, encoded queries and batches as well).

for the CSV file and for the same rows in a SQLite database.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

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

STREAMED = """\
version: 1
name: bench-stream
steps:
  - id: contact
    for_each: SOURCE
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}", email: "{{ item.email }}"COUNTED}}
"""

SOURCES = {
    "csv": "{file: rows.csv}",
    "sql": "{sql: {url_env: BENCH_DB, query: 'select name, email from people'}}",
}


def write_data(base: Path, rows: int) -> None:
    """rows.csv and rows.db with the same rows."""
    with open(base / "rows.csv", "w", encoding="utf-8") as stream:
        stream.write("name,email\n")
        for i in range(rows):
            stream.write(f"Person {i},person{i}@example.com\n")
    with sqlite3.connect(base / "rows.db") as db:
        db.execute("create table people (name text, email text)")
        db.executemany(
            "insert into people values (?, ?)",
            ((f"Person {i}", f"person{i}@example.com") for i in range(rows)),
        )
    db.close()


def measure(base: Path, kind: str, mode: str) -> dict[str, object]:
    """One measurement, in this process (called by the child process ``--child``)."""
    from b24sync.pipeline import load_pipeline
    from b24sync.pipeline.models import FileSource, SqlSource
    from b24sync.pipeline.sources import SourceContext, open_source
    from b24sync.planning import plan

    environ = {"BENCH_DB": f"sqlite:///{base / 'rows.db'}"}
    started = time.process_time()
    count = 0
    if mode in ("rows-held", "rows-streamed"):
        spec = (
            FileSource(file=str(base / "rows.csv"))
            if kind == "csv"
            else SqlSource.model_validate(
                {"sql": {"url_env": "BENCH_DB", "query": "select name, email from people"}}
            )
        )
        rows = open_source(spec, SourceContext("bench", "", environ)).rows()
        if mode == "rows-held":
            held = [row.value for row in rows]
            count = len(held)
        else:
            count = sum(1 for _ in rows)
    elif mode in ("load", "load-counted", "plan"):
        counted = ', note: "{{ loop.index }} of {{ loop.length }}"' if mode == "load-counted" else ""
        text = STREAMED.replace("SOURCE", SOURCES[kind]).replace("COUNTED", counted)
        (base / f"{kind}-{mode}.yaml").write_text(text, encoding="utf-8")
        pipeline = load_pipeline(str(base / f"{kind}-{mode}.yaml"), environ=environ)
        count = sum(len(step.expansion.instances) for step in pipeline.steps)
        if mode == "plan":
            count = len(plan(pipeline).commands())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "kind": kind,
        "mode": mode,
        "count": count,
        "cpu_s": time.process_time() - started,
        "rss_mib": peak_kib / 1024,
    }


MODES = ["python", "rows-held", "rows-streamed", "load", "load-counted", "plan"]


def rss(rows: int, only: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        write_data(base, rows)
        print(f"rows={rows:,}  (peak RSS of a fresh process each)")
        modes = only or MODES
        for kind in ("csv", "sql"):
            for mode in modes:
                if kind == "sql" and mode == "python":
                    continue
                out = subprocess.run(
                    [sys.executable, __file__, "--child", folder, kind, mode],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                got = json.loads(out)
                print(
                    f"  {kind:3} {mode:14} {got['rss_mib']:8.0f} MiB  cpu {got['cpu_s']:6.1f} s  ({got['count']:,})"
                )


def tracemalloc_run(rows: int) -> None:
    from b24sync.pipeline import load_pipeline

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


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        folder, kind, mode = args[1:4]
        if mode == "python":
            import b24sync.pipeline  # noqa: F401

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps({"kind": kind, "mode": mode, "count": 0, "cpu_s": 0.0, "rss_mib": peak}))
            return
        print(json.dumps(measure(Path(folder), kind, mode)))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rss", action="store_true", help="peak RSS of each way of reading, a fresh process each"
    )
    parser.add_argument("rows", nargs="?", type=int, help="rows (default 100000, with --rss 1000000)")
    parser.add_argument("modes", nargs="*", choices=MODES, help="with --rss: only these")
    parsed = parser.parse_args(args)
    if parsed.modes and not parsed.rss:
        parser.error("the modes choose what --rss measures: pass --rss")
    if parsed.rss:
        rss(parsed.rows or 1_000_000, parsed.modes)
        return
    tracemalloc_run(parsed.rows or 100_000)


if __name__ == "__main__":
    main()
