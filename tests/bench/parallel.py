"""``apply --parallel N`` on the cloud profile: wall time against the physical bound, refusals, correctness.

Runs b24sync alone (through ``compare.py``'s emulator, runner and checks) on the cloud workloads of
``compare.py`` (adds, chains), once per ``--parallel`` value, and prints one JSON line per run plus a
table; ``--out FILE`` also writes the rows as JSON. Usage::

    python tests/bench/parallel.py --workloads cloud_adds,cloud_chains --parallel 0,1,2,4,8 --count 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import compare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", default="cloud_adds,cloud_chains")
    parser.add_argument("--parallel", default="1,2,4,8", help="values to run; 0 is the measured default")
    parser.add_argument("--count", type=int, help="instead of each workload's own count")
    parser.add_argument("--out")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    folder = Path(tempfile.mkdtemp(prefix="b24sync-parallel-"))
    for workload in args.workloads.split(","):
        spec = compare.WORKLOADS[workload]
        count = args.count or int(spec["count"])
        pipeline = None
        if "chains" in workload:
            (folder / "chains.json").write_text(
                json.dumps([{"id": f"c{i:05d}", "n": i} for i in range(count)])
            )
            (folder / "chains.yaml").write_text(compare.PIPELINE)
            pipeline = str(folder / "chains.yaml")
        bound = compare.physical_bound(workload, count, "import" if workload.endswith("import") else "adds")
        with compare.emulator(spec["portal"], folder / "emulator.log") as (url, certificate):
            hook = compare.checker(url, certificate, compare.rate_limit(workload))
            for parallel in (int(n) for n in args.parallel.split(",")):
                compare.control(url, certificate, "/_emulator/reset", post=True)
                before = compare.control(url, certificate, "/_emulator/stats")
                run = compare.run_tool(
                    "b24sync",
                    workload,
                    url,
                    certificate,
                    count,
                    compare.rate_limit(workload),
                    pipeline,
                    operating=compare.operating_of(workload),
                    parallel=parallel,
                )
                after = compare.control(url, certificate, "/_emulator/stats")
                refused = {
                    k: v - before.get("refused", {}).get(k, 0) for k, v in after.get("refused", {}).items()
                }
                if "chains" in workload:
                    stored, problems = compare.check_chains(hook, count)
                else:
                    stored, problems = compare.check_contacts(hook, count)
                row = {
                    "workload": workload,
                    "count": count,
                    "parallel": parallel,
                    "wall_s": round(run.get("wall_s", float("nan")), 2),
                    "cpu_s": round(run.get("cpu_s", float("nan")), 2),
                    "requests": after["requests"] - before["requests"],
                    "refused_503": refused.get("QUERY_LIMIT_EXCEEDED", 0),
                    "refused_429": refused.get("OPERATION_TIME_LIMIT", 0),
                    "stored": stored,
                    "correct": not problems and "error" not in run,
                    "problems": [*([run["error"]] if "error" in run else []), *problems][:3],
                    "bound_s": round(bound["bound_s"], 2),
                    "serial_s": round(bound["serial_s"], 2),
                    "x_bound": round(run.get("wall_s", float("nan")) / bound["bound_s"], 2),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
            hook.close()
    print("\n| workload | --parallel | wall s | x bound | requests | 503 | 429 | correct |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workload']} ({r['count']}) | {r['parallel']} | {r['wall_s']} | {r['x_bound']} | "
            f"{r['requests']} | {r['refused_503']} | {r['refused_429']} | {r['correct']} |"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
