"""Benchmark (run by hand): load + plan CPU per command for a one-template-per-field CSV step.

    PYTHONPATH=. python tests/bench/bench_plan.py [ROWS ...]      # default: 10000 100000 1000000
    PYTHONPATH=. python tests/bench/bench_plan.py --link [ROWS ...]   # every row also links to a company

Each size runs in a fresh process (so one size's memory does not slow the next) and prints the CPU
time (``time.process_time``) of ``load_pipeline`` and of ``plan``, their sum per command, the peak
RSS of the process and the commands and batches planned. Target (issue 16): load + plan at most
30 µs of CPU per command, the same at every size (linear).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (10_000, 100_000, 1_000_000)

PIPELINE = """\
version: 1
name: bench-plan
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.email }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields:
        name: "{{ item.name }}"
        lastName: "{{ item.last }}"
        post: "{{ item.email }}"
        comments: "{{ item.phone }}"
        sourceDescription: "{{ item.city }}"
"""

LINKED = """\
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Bench}}
"""


def write_case(folder: Path, rows: int, link: bool) -> Path:
    """The pipeline and its CSV file of ``rows`` rows; the path of the pipeline."""
    text = PIPELINE
    if link:
        text = text.replace("steps:\n", "steps:\n" + LINKED)
        text += '        companyId: "{{ steps.company.item.id }}"\n'
    (folder / "pipeline.yaml").write_text(text)
    with open(folder / "rows.csv", "w") as stream:
        stream.write("name,last,email,phone,city\n")
        for i in range(rows):
            stream.write(f"Person {i},Last{i},person{i}@example.com,+7900{i:07d},City {i % 100}\n")
    return folder / "pipeline.yaml"


def measure(path: str) -> None:
    """Load and plan ``path`` in this process; print one line of figures."""
    from b24sync.pipeline import load_pipeline
    from b24sync.planning.planner import plan

    started = time.process_time()
    pipeline = load_pipeline(path)
    loaded = time.process_time()
    result = plan(pipeline)
    planned = time.process_time()
    commands = sum(len(batch.commands) for batch in result.batches)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_command = (planned - started) / commands * 1e6
    print(
        f"commands={commands:>9,} batches={len(result.batches):>6,} load={loaded - started:6.2f}s "
        f"plan={planned - loaded:6.2f}s load+plan={per_command:5.1f} us/command peak_rss={rss:7.0f}MiB",
        flush=True,
    )


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:  # the child of one size
        measure(sys.argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rows", nargs="*", type=int, help="rows of each size (default: 10000 100000 1000000)")
    parser.add_argument("--link", action="store_true", help="every row also links to a company")
    args = parser.parse_args()
    for rows in args.rows or SIZES:
        with tempfile.TemporaryDirectory() as folder:
            path = write_case(Path(folder), rows, args.link)
            subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True)


if __name__ == "__main__":
    main()
