"""Benchmark (run by hand): load + plan, and ``b24sync apply`` on the emulator, at 10k, 100k and 1M rows.

    PYTHONPATH=. python tests/bench/bench_scale.py [ROWS ...] [--no-apply] [--resume] [--import]
                                                   [--out tests/bench/scale.json]

For each size: a CSV file of ROWS rows and a pipeline with one ``crm.item.add`` per row (one template
per field, tests/bench/bench_plan.py's pipeline). Two fresh child processes per size:

- ``plan``: ``load_pipeline`` + ``plan`` in one process: CPU per command (``time.process_time``);
- ``apply``: ``python -m b24sync apply PIPELINE --rate-limit off --no-progress --report R`` against
  ``b24sync emulator --port 0 --operating-limit off`` (a separate process, over loopback HTTP; the
  in-process ``--emulator`` keeps the 480 s operating limit, which a 100,000-row run reaches and then
  waits out): the wall time, the CPU (user + system) and the peak RSS of the ``apply`` process alone,
  and the size of the report it wrote (lean ``ids`` by default above 10,000 commands).

With ``--import`` the step is ``mode: import`` (``crm.item.batchImport``, 20 records a command): only
the ``apply`` process is measured (a file of more than 10,000 rows is planned a window at a time
there too), and the row says ``"mode": "import"``; it is kept apart from the ``crm.item.add`` row of
the same size.

With ``--resume``, a third: the same apply on a fresh emulator is stopped with SIGTERM (a cancelled CI
job) once half its requests are out, and finished with ``apply --resume REPORT``; the figures are those
of the resumed process (it reads the lean report of the stopped run a line at a time and plans the
file a window at a time, ``run.resume``), and the portal must then hold every row exactly once.

Prints one line per size and writes every figure to ``--out`` (default tests/bench/scale.json) for
docs/performance.md; sizes measured by an earlier run stay in the file, each with its ``measured_at``
(``apply_measured`` is false for a size run with ``--no-apply``). Targets (issue 16): load + plan
<= 30 us per command at every size (the ``plan`` process: the whole plan, as ``b24sync plan`` builds
it); apply of 100,000 rows under 200 MiB and of 1,000,000 under 400 MiB peak RSS (``apply`` plans
a file of more than 10,000 rows a window at a time, ``b24sync.planning.streaming``, and keeps its
report entries in columns, ``report.model.Entries``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_plan import write_case

SIZES = (10_000, 100_000, 1_000_000)
ROOT = Path(__file__).resolve().parents[2]


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    """``b24sync emulator`` on a free loopback port with no limits; the process and its webhook URL."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "b24sync", "emulator", "--port", "0", "--operating-limit", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    assert server.stdout is not None
    url = server.stdout.readline().decode().strip()
    if not url.startswith("http"):
        server.terminate()
        raise SystemExit(f"the emulator did not start: {url!r}")
    return server, url


def run_child(arguments: list[str], extra: dict[str, str] | None = None) -> tuple[str, float, float, float]:
    """Run a command in a fresh process; its stdout, wall seconds, CPU seconds and peak RSS in MiB.

    The command runs under an intermediate process of this file (``--usage``) whose only child it
    is, so ``RUSAGE_CHILDREN`` there is the command's own (``ru_maxrss`` is a maximum over children).
    """
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("B24_WEBHOOK_URL", None)
    environment.update(extra or {})
    with tempfile.NamedTemporaryFile(suffix=".json") as usage_file:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--usage", usage_file.name, *arguments],
            capture_output=True,
            env=environment,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(
                f"{' '.join(arguments)} exited {done.returncode}: {done.stderr.decode()[-2000:]}"
            )
        usage = json.loads(Path(usage_file.name).read_text())
    return done.stdout.decode(), wall, usage["cpu_s"], usage["peak_rss_mib"]


def report_usage(target: str, arguments: list[str]) -> None:
    """Intermediate process: run ``arguments``, then write its CPU time and peak RSS to ``target``."""
    import resource

    code = subprocess.run(arguments, check=False).returncode
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {"cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024}
    Path(target).write_text(json.dumps(figures))
    raise SystemExit(code)


def commit() -> str:
    """The commit measured, ``-dirty`` when b24sync/ has changes not committed."""

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("-dirty" if git("status", "--porcelain", "--", "b24sync") else "")


def measure_plan(path: str) -> None:
    """Child: load and plan ``path``; print the figures as JSON."""
    import resource

    from b24sync.pipeline import load_pipeline
    from b24sync.planning.planner import plan

    started, kernel = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
    pipeline = load_pipeline(path)
    loaded = time.process_time()
    result = plan(pipeline)
    planned = time.process_time()
    kernel = resource.getrusage(resource.RUSAGE_SELF).ru_stime - kernel
    commands = sum(len(batch.commands) for batch in result.batches)
    figures = {
        "commands": commands,
        "requests": len(result.batches),
        "load_s": round(loaded - started, 3),
        "plan_s": round(planned - loaded, 3),
        "load_plan_us_per_command": round((planned - started) / commands * 1e6, 1),
        # of it, the kernel's (system CPU): mostly first touches of fresh memory, whose cost depends
        # on the machine (on this VM a page fault past the first GB of a process took 11 us, not 1.5)
        "load_plan_sys_us_per_command": round(kernel / commands * 1e6, 1),
    }
    print(json.dumps(figures))


def measure_resume(path: Path, size: int, importing: bool = False) -> dict[str, object]:
    """Stop an apply of ``path`` half way with SIGTERM, resume it; the resumed process's figures."""
    requests = -(-size // 840) if importing else -(-size // 50)  # 840 records an import request
    import signal

    folder = path.parent
    stopped, finished = folder / "stopped.json", folder / "finished.json"
    command = [sys.executable, "-m", "b24sync", "apply", str(path), "--rate-limit", "off", "--no-progress"]
    server, url = start_emulator()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "B24_WEBHOOK_URL": url}
    try:
        first = subprocess.Popen(
            [*command, "--report", str(stopped)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        journal, seen, offset = Path(f"{stopped}.journal"), 0, 0
        while first.poll() is None and seen < requests // 2:  # half of its requests
            time.sleep(0.05)
            if journal.exists():
                with journal.open("rb") as text:
                    text.seek(offset)
                    chunk = text.read()
                cut = chunk.rfind(b"\n") + 1
                seen, offset = seen + chunk[:cut].count(b'{"sending"'), offset + cut
        first.send_signal(signal.SIGTERM)
        first.wait()
        _, wall, cpu, rss = run_child(
            [*command, "--report", str(finished), "--resume", str(stopped)], {"B24_WEBHOOK_URL": url}
        )
        sys.path.insert(0, str(ROOT))
        from b24sync.client import B24Hook

        client = B24Hook.from_webhook_url(url, rate_limit=None)
        stored = client.call_method("crm.item.list", {"entityTypeId": 3, "select": ["id"]}).total
    finally:
        server.terminate()
        server.wait()
    done = json.loads(finished.read_text(encoding="utf-8"))
    carried = json.loads(stopped.read_text(encoding="utf-8"))["totals"]["succeeded"]
    assert done["status"] == "succeeded" and stored == size, (done["status"], stored)
    return {
        "resume_carried": carried,
        "resume_wall_s": round(wall, 1),
        "resume_cpu_s": round(cpu, 1),
        "resume_peak_rss_mib": round(rss),
        "resume_stored": stored,
    }


OPTIONS = ("--no-apply", "--resume", "--import", "--out")
"""The options of a measuring run (``--plan`` and ``--usage`` are its child processes')."""


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--plan"]:
        measure_plan(args[1])
        return
    if args[:1] == ["--usage"]:
        report_usage(args[1], args[2:])
    if "-h" in args or "--help" in args:
        print(__doc__)
        return
    if args[-1:] == ["--out"] or not all(
        a.isdigit() or a in OPTIONS or args[i - 1 : i] == ["--out"] for i, a in enumerate(args)
    ):
        # a mistyped option measured every size for minutes and replaced scale.json's figures
        sys.exit(f"bench_scale.py: cannot use {' '.join(args)}; see --help")
    out = Path(args[args.index("--out") + 1]) if "--out" in args else ROOT / "tests/bench/scale.json"
    apply = "--no-apply" not in args
    importing = "--import" in args
    if importing and not apply:
        sys.exit("bench_scale.py: --import measures apply alone; it cannot go with --no-apply")
    sizes = [int(a) for a in args if a.isdigit()] or list(SIZES)
    rows: list[dict[str, object]] = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = write_case(Path(folder), size, link=False)
            row: dict[str, object] = {"rows": size}
            if importing:
                text = path.read_text(encoding="utf-8")
                path.write_text(
                    text.replace("    method: crm.item.add\n", "    mode: import\n    method: crm.item.add\n")
                )
                row["mode"] = "import"
            else:
                text, _, _, plan_rss = run_child([sys.executable, __file__, "--plan", str(path)])
                row.update(json.loads(text), plan_peak_rss_mib=round(plan_rss))
            if apply:
                report = Path(folder) / "report.json"
                command = [sys.executable, "-m", "b24sync", "apply", str(path), "--rate-limit", "off"]
                server, url = start_emulator()
                try:
                    _, wall, cpu, rss = run_child(
                        [*command, "--no-progress", "--report", str(report)], {"B24_WEBHOOK_URL": url}
                    )
                finally:
                    server.terminate()
                    server.wait()
                report_data = json.loads(report.read_text(encoding="utf-8"))
                assert report_data["status"] == "succeeded", report_data["status"]
                row.update(
                    apply_wall_s=round(wall, 1),
                    apply_cpu_s=round(cpu, 1),
                    apply_peak_rss_mib=round(rss),
                    report_mb=round(report.stat().st_size / 1e6, 1),
                    report_results=report_data["results"],
                )
            if "--resume" in args:
                row.update(measure_resume(path, size, importing))
        row["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        row["commit"] = commit()
        row["apply_measured"] = apply
        rows.append(row)
        shown = ", ".join(f"{key}={value}" for key, value in row.items())
        print(shown, flush=True)
    # sizes measured by an earlier run (another command line) stay, each with its own measured_at
    earlier = json.loads(out.read_text(encoding="utf-8")).get("sizes", []) if out.exists() else []
    measured = {(row["rows"], row.get("mode")) for row in rows}
    rows = sorted(
        [*(row for row in earlier if (row["rows"], row.get("mode")) not in measured), *rows],
        key=lambda row: (str(row.get("mode") or ""), str(row["rows"]).zfill(12)),
    )
    document = {
        "bench": "tests/bench/bench_scale.py",
        "command": "PYTHONPATH=. python tests/bench/bench_scale.py [ROWS ...] [--no-apply] [--resume] [--import]",
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "sizes": rows,
    }
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
