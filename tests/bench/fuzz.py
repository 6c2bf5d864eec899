"""The long fuzzing run of issue 14, by hand: ``python -m tests.bench.fuzz --minutes 10 --seed 1``.

Mutates pipelines/*.yaml and their data files, runs validate, plan and apply --emulator on each
mutant in-process (tests/helpers/fuzzing.py) and prints the counts: mutants, command runs, mutants
per second, exit codes, and every distinct cause of failure with its first mutant.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tests.helpers.fuzzing import fuzz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-case", type=float, default=20.0, help="deadline of one command, seconds")
    options = parser.parse_args()
    started, cpu = time.monotonic(), time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        findings = fuzz(Path(folder), options.seed, seconds=options.minutes * 60, per_case=options.per_case)
    wall, used = time.monotonic() - started, time.process_time() - cpu
    print(
        json.dumps(
            {
                "seed": options.seed,
                "mutants": findings.cases,
                "command_runs": findings.runs,
                "wall_s": round(wall, 1),
                "cpu_s": round(used, 1),
                "mutants_per_s": round(findings.cases / wall, 1),
                "mutants_per_cpu_s": round(findings.cases / used, 1),
                "exit_codes": dict(sorted(findings.exit_codes.items())),
                "causes": len(findings.failures),
            },
            indent=2,
        )
    )
    for cause, text in findings.failures.items():
        print(f"\n== {cause}\n{text[:600]}")


if __name__ == "__main__":
    main()
