"""Apply 5,000 commands against the emulator (a separate process, real HTTP on loopback).

    python tests/bench/bench_apply.py [--commands N] [--skip-limited]

1. At the standard rate limit (burst 50, 2 requests/s) on both sides: wall time against the
   leaky-bucket bound (the burst goes at once, every later request waits 1/rate), and 503s received.
2. With limits off: requests, wall time and the client's CPU time per command, without and with the
   run journal (one fsync'd line before each request, one line after), interleaved so both see the
   same machine; the journal's cost is the difference of the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.client import B24Hook
from b24sync.client.encoding import encode_command
from b24sync.planning.model import Batch, Command, PipelineInfo, Plan
from b24sync.run.executor import Execution, execute
from b24sync.run.journal import JournalWriter, NoJournal


def make_plan(count: int) -> Plan:
    commands = []
    for i in range(count):
        params = {
            "entityTypeId": 3,
            "fields": {"name": f"Contact {i}", "originatorId": "bench", "originId": str(i)},
        }
        commands.append(
            Command(
                key=f"contact_{i:05d}",
                step="contact",
                instance=str(i),
                method="crm.item.add",
                params=params,
                query=encode_command("crm.item.add", params),
            )
        )
    batches = tuple(
        Batch(index=n, halt=False, commands=tuple(commands[s : s + MAX_BATCH]))
        for n, s in enumerate(range(0, count, MAX_BATCH))
    )
    return Plan(pipeline=PipelineInfo(path="bench", sha256="0" * 64), batches=batches)


@contextmanager
def emulator(rate_limit: str) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "b24sync", "emulator", "--port", "0", "--rate-limit", rate_limit],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def stats(url: str) -> dict[str, Any]:
    base = url.split("/rest/")[0]
    with urllib.request.urlopen(base + "/_emulator/stats") as response:
        figures: dict[str, Any] = json.loads(response.read())
        return figures


def run(url: str, plan: Plan, rate_limit: str, journal: Path | None = None) -> tuple[float, float, Execution]:
    client = B24Hook.from_webhook_url(url, rate_limit=rate_limit)
    writer = JournalWriter(journal, client.redact) if journal is not None else None
    cpu, wall = time.process_time(), time.perf_counter()
    execution = execute(plan, client, halt_on_error=False, journal=writer or NoJournal())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if writer is not None:
        writer.remove()
    client.close()
    bad = [s for s in execution.steps if s.status != "succeeded"]
    assert not bad, bad[:3]
    return wall, cpu, execution


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--skip-limited", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="Runs without and with the journal, each.")
    args = parser.parse_args()
    plan = make_plan(args.commands)
    requests_needed = len(plan.batches)

    with emulator("off") as url, tempfile.TemporaryDirectory() as folder:
        figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(args.rounds):
            for journaled in (False, True):
                journal = Path(folder, "bench.journal") if journaled else None
                wall, cpu, execution = run(url, plan, "off", journal)
                figures[journaled].append((wall, cpu))
        seen = stats(url)
        for journaled in (False, True):
            wall = statistics.median(w for w, _ in figures[journaled])
            cpu = statistics.median(c for _, c in figures[journaled])
            print(
                f"limits off, {'with' if journaled else 'without'} journal: {args.commands} commands in "
                f"{execution.requests} requests, wall {wall:.2f} s, "
                f"client CPU {cpu:.2f} s = {cpu / args.commands * 1e6:.0f} us per command (median)"
            )
        base = statistics.median(c for _, c in figures[False])
        extra = statistics.median(c for _, c in figures[True]) - base
        print(
            f"journal cost: {extra:+.3f} s client CPU = {extra / base * 100:+.1f} % (emulator saw {seen['requests']})"
        )

    if args.skip_limited:
        return
    burst, rate = 50, 2.0
    bound = max(0, requests_needed - burst) / rate
    with emulator("standard") as url:
        wall, cpu, execution = run(url, plan, "standard")
        seen = stats(url)
        by_status = seen["by_status"]
        print(
            f"standard limit: {requests_needed} requests, wall {wall:.2f} s, leaky-bucket bound {bound:.2f} s, "
            f"ratio {wall / bound if bound else float('nan'):.3f}, 503s {by_status.get('503', 0)}, "
            f"waited {execution.waited_s:.2f} s"
        )


if __name__ == "__main__":
    main()
