"""How long ``b24sync --version`` and ``--help`` take to start, against a bare interpreter (run by hand).

python tests/bench/bench_start.py [RUNS]

Prints, per command, the median wall time and CPU time of RUNS starts, and the cumulative import time of
``b24sync.cli`` from ``python -X importtime``. Wall time on a shared machine is noisy: compare the CPU
times, and the command's against ``python -c pass`` measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "b24sync --version": [sys.executable, "-m", "b24sync", "--version"],
    "b24sync --help": [sys.executable, "-m", "b24sync", "--help"],
    "b24sync apply --help": [sys.executable, "-m", "b24sync", "apply", "--help"],
}


def one_start(command: list[str]) -> tuple[float, float]:
    before = os.times()
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def cli_import_ms(args: list[str]) -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "b24sync", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"\|\s*(\d+) \| b24sync\.cli$", done.stderr, re.M)
    return int(found[1]) / 1000 if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="?", type=int, default=15, help="starts of each command (default 15)")
    runs = parser.parse_args().runs
    for name, command in COMMANDS.items():
        times = [one_start(command) for _ in range(runs)]
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        line = f"{name:22} wall {wall * 1000:6.0f} ms  cpu {cpu * 1000:6.0f} ms"
        if name.startswith("b24sync"):
            line += f"  import b24sync.cli {cli_import_ms(command[3:]):5.1f} ms"
        print(line)


if __name__ == "__main__":
    main()
