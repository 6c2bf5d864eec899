"""b24sync side by side with fast_bitrix24 and b24pysdk on the emulator (issues 8, 16, 17), run by hand.

    python tests/bench/compare.py [--quick] [--tools b24sync,fast_bitrix24,b24pysdk]
                                  [--workloads adds,chains,...] [--count WORKLOAD=N ...]
                                  [--merge] [--json FILE] [--no-write] [--render] [--merge-files A,B]

Starts one emulator process per portal the chosen workloads need, on loopback (https with a
self-signed certificate, since b24pysdk only builds https URLs): without limits, at the standard
rate limit, and on the cloud cost model (server time per command, ten workers, the standard rate
limit and the operating budget), once with the cloud's budget and once with a budget small enough
to reach in a benchmark (``PORTALS``). For each workload every tool runs in turn on the same
emulator, each run in a fresh process of its own (tests/bench/compare_runner.py) so that its CPU
time and memory are its own and not the server's. b24sync runs through ``b24sync.apply`` of a
pipeline file. The store is reset before every writing run; the read workload seeds the store once
and every tool reads the same records. Requests, 503s and refusals by a limit are the emulator's
counters; stored records and links are read back from the emulator after each run and checked. On
the cloud profile each workload gets its physical bound (``physical_bound``) and each run its
wall time over it. The cloud workloads default to the sizes of issue 17 (``issue`` of ``WORKLOADS``),
which take hours in all; ``--count WORKLOAD=N`` runs one smaller, and docs/performance.md says which
sizes ran. b24sync runs with its default ``--parallel`` (measured from the answers).

Writes docs/performance.md (the tables, the targets, the findings, and tests/bench/scale.json's
figures when that file exists) and tests/bench/compare.json (raw figures). A peer that is not
installed or fails is shown in the table with its reason. Every run is also appended, as it ends,
to the JSON file's name + ``.runs.jsonl`` (429s and 503s on the progress line too): a run of the
50,000-add workload that is stopped before the end keeps the figures of the runs it finished.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from b24sync.client import B24Hook  # noqa: E402
from b24sync.planning.importing import MAX_IMPORTS_PER_REQUEST  # noqa: E402
from tests.bench.bench_scale import commit as measured_commit  # noqa: E402
from tests.bench.compare_report import path_of, render  # noqa: E402

TOOLS = ("b24sync", "fast_bitrix24", "b24pysdk", "script")
PACKAGES = {"script": "requests"}
"""script: the batches written by hand with requests alone (compare_runner.script_tool), the floor
b24sync's CPU is held to; it has no pacing and no retries, so it runs only without limits (``SCRIPTED``)."""
SCRIPTED = ("adds", "chains", "chains_small")
# fast_bitrix24 as its README says (results in item order) and, on the chains, as a wary user who
# matches each result to its item by the name it echoes back, since the order does not hold
VARIANTS = {"fast_bitrix24-matched": "fast_bitrix24", "b24sync-parallel10": "b24sync"}
"""b24sync-parallel10: b24sync with an explicit ``--parallel 10`` beside its measured default, on the
cloud workloads (the row of the target checks is the default's)."""
BURST, RATE = 50, 2.0
# the portals the workloads run on: emulator options, and the budget b24sync's client is told of
PORTALS: dict[str, dict[str, Any]] = {
    "free": {"rate_limit": "off"},
    "limited": {"rate_limit": "standard"},
    # a cloud portal as the emulator's cost model gives it: server time per command, 10 workers,
    # the standard leaky bucket and the operating budget of 480 s per method per 10 minutes
    "cloud": {"rate_limit": "standard", "profile": "cloud"},
    # the same with a budget small enough to reach in a benchmark: 10 s per method per 60 s (ten
    # baskets of 6 s), adds at 20 ms so that a batch costs 1 s of it
    "budget": {
        "rate_limit": "standard",
        "profile": "cloud",
        "costs": {"add": 0.020},
        "operating_limit": 10.0,
        "operating_window": 60.0,
    },
}
WORKLOADS: dict[str, dict[str, Any]] = {
    "adds": {
        "title": "1. independent crm.item.add (contacts)",
        "count": 5000,
        "quick": 500,
        "portal": "free",
    },
    "chains": {
        "title": "2. chains company -> contact -> deal -> task",
        "count": 1000,
        "quick": 100,
        "portal": "free",
    },
    "chains_small": {
        "title": "2b. the same chains, few enough to fit one batch",
        "count": 10,
        "quick": 10,
        "portal": "free",
    },
    "read": {
        "title": "3. read a list of contacts (fetch all)",
        "count": 20000,
        "quick": 2000,
        "portal": "free",
    },
    "limited": {
        "title": "4. crm.item.add at the standard rate limit",
        "count": 5000,
        "quick": 3000,
        "portal": "limited",
    },
    # issue 17's sizes: 5,000 adds (past one operating budget: 500 s of crm.item.add), 1,000 chains,
    # 50,000 adds (ten budgets: about 100 minutes a tool) and 10,000 imported creates
    "cloud_adds": {
        "title": "5. crm.item.add on the cloud profile",
        "count": 5000,
        "issue": 5000,
        "quick": 100,
        "portal": "cloud",
    },
    "cloud_chains": {
        "title": "6. chains on the cloud profile",
        "count": 1000,
        "issue": 1000,
        "quick": 20,
        "portal": "cloud",
    },
    "cloud_long": {
        "title": "6b. crm.item.add on the cloud profile, long enough to reach the budget many times",
        "count": 50000,
        "issue": 50000,
        "quick": 1000,
        "portal": "cloud",
    },
    # 900 adds: 18 s of operating time, 1.8 budgets. At 1,000 (exactly 2) a client that keeps any
    # margin at all sends 9 batches a window where the portal would take 10 (9 + 0.98 s < 10 s),
    # and needs a third window: 121.5 s against a bound of 55.0 s on 2026-12-02.
    "cloud_budget": {
        "title": "7. crm.item.add past a small operating budget (10 s per 60 s)",
        "count": 900,
        "quick": 600,
        "portal": "budget",
    },
    "cloud_import": {
        "title": "8. creates on the cloud profile, b24sync with mode: import (peers: crm.item.add)",
        "count": 10000,
        "issue": 10000,
        "quick": 200,
        "portal": "cloud",
    },
}
PIPELINE = """\
version: 1
name: bench-chains
steps:
  - id: company
    for_each: {file: chains.json}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: "Company {{ item.n }}"}}
  - id: contact
    for_each: {file: chains.json}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields: {name: "Contact {{ item.n }}", companyId: "{{ steps.company[item.id].item.id }}"}
  - id: deal
    for_each: {file: chains.json}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 2
      fields: {title: "Deal {{ item.n }}", contactId: "{{ steps.contact[item.id].item.id }}"}
  - id: task
    for_each: {file: chains.json}
    key: "{{ item.id }}"
    method: tasks.task.add
    params:
      fields:
        TITLE: "Task {{ item.n }}"
        RESPONSIBLE_ID: 1
        UF_CRM_TASK: ["D_{{ steps.deal[item.id].item.id }}"]
"""


# -- the emulator processes --------------------------------------------------------------------


def name_commits(results: dict[str, Any]) -> None:
    """The header's b24sync version names no commit when the workloads (some kept from earlier runs
    by ``--merge``) were measured at several: each workload names its own."""
    if len({entry.get("commit") for entry in results["workloads"].values()}) > 1:
        results["versions"]["b24sync"] = (
            f"{installed('b24sync') or '?'} (this tree; each workload names the commit it was measured at)"
        )


def serve(portal: str) -> None:
    """Child mode: run an emulator over https; print its webhook URL and certificate path."""
    from b24sync.emulator import Emulator
    from b24sync.emulator.server import EmulatorServer

    server = EmulatorServer(Emulator(**PORTALS[portal]), tls=True)
    server.start()
    print(server.webhook_url)
    print(server.certificate, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop()


@contextmanager
def emulator(portal: str, log: Path) -> Iterator[tuple[str, str]]:
    # the server's stderr goes to a file: a client that gives up mid-request (fast_bitrix24 in
    # workload 4) makes http.server print a broken-pipe traceback per open connection
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--serve", portal],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=ROOT,
        )
    assert process.stdout is not None
    url, certificate = process.stdout.readline().strip(), process.stdout.readline().strip()
    try:
        if not url.startswith("https://"):
            raise SystemExit(f"the emulator did not start (got {url!r}): {log.read_text()[-500:]}")
        yield url, certificate
    finally:
        process.terminate()
        process.wait(timeout=10)


def control(url: str, certificate: str, path: str, post: bool = False) -> dict[str, Any]:
    import ssl

    context = ssl.create_default_context(cafile=certificate)
    request = urllib.request.Request(
        url.split("/rest/")[0] + path, data=b"" if post else None, method="POST" if post else "GET"
    )
    with urllib.request.urlopen(request, context=context) as response:
        return json.loads(response.read() or b"{}")  # type: ignore[no-any-return]


def checker(url: str, certificate: str, rate_limit: str) -> B24Hook:
    import requests

    session = requests.Session()
    session.verify = certificate
    session.trust_env = False  # else a REQUESTS_CA_BUNDLE in the environment overrides verify
    return B24Hook.from_webhook_url(url, rate_limit=rate_limit, session=session)


# -- correctness -------------------------------------------------------------------------------


def items(hook: B24Hook, entity_type_id: int, select: list[str]) -> list[dict[str, Any]]:
    result = hook.call_fast_list_method(
        "crm.item.list", {"entityTypeId": entity_type_id, "select": select}, id_key="id", items_key="items"
    )
    assert result.is_success, result.get_error_messages()
    return list(result.data)


def check_contacts(hook: B24Hook, count: int) -> tuple[int, list[str]]:
    rows = items(hook, 3, ["id", "name", "originId"])
    problems = []
    origins = [row.get("originId") for row in rows]
    if len(rows) != count:
        problems.append(f"{len(rows)} contacts stored, expected {count}")
    if len(set(origins)) != len(origins):
        problems.append(f"{len(origins) - len(set(origins))} duplicate contacts")
    missing = {str(i) for i in range(count)} - set(origins)
    if missing:
        problems.append(f"{len(missing)} contacts missing")
    return len(rows), problems


def check_chains(hook: B24Hook, count: int) -> tuple[int, list[str]]:
    companies = items(hook, 4, ["id", "title"])
    contacts = items(hook, 3, ["id", "name", "companyId"])
    deals = items(hook, 2, ["id", "title", "contactId"])
    tasks = hook.call_fast_list_method(
        "tasks.task.list", {"select": ["ID", "TITLE", "UF_CRM_TASK"]}, id_key="ID", items_key="tasks"
    ).data
    problems = []
    for name, rows in (("companies", companies), ("contacts", contacts), ("deals", deals), ("tasks", tasks)):
        if len(rows) != count:
            problems.append(f"{len(rows)} {name} stored, expected {count}")
    company = {row["title"].split()[-1]: row["id"] for row in companies}
    contact = {row["name"].split()[-1]: row for row in contacts}
    deal = {row["title"].split()[-1]: row for row in deals}
    task = {row["title"].split()[-1]: row for row in tasks}
    if len(company) + len(contact) + len(deal) + len(task) != len(companies) + len(contacts) + len(
        deals
    ) + len(tasks):
        problems.append("duplicate records")
    wrong = 0
    for n in map(str, range(count)):
        c, d, t = contact.get(n), deal.get(n), task.get(n)
        if c is None or d is None or t is None or n not in company:
            wrong += 1
            continue
        if (
            c["companyId"] != company[n]
            or d["contactId"] != c["id"]
            or list(t.get("ufCrmTask") or []) != [f"D_{d['id']}"]
        ):
            wrong += 1
    if wrong:
        problems.append(f"{wrong} of {count} chains with a wrong or missing link")
    return len(companies) + len(contacts) + len(deals) + len(tasks), problems


def seed(hook: B24Hook, count: int) -> str:
    from tests.bench.compare_runner import contact_fields, ids_digest

    calls = [["crm.item.add", {"entityTypeId": 3, "fields": contact_fields(i)}] for i in range(count)]
    result = hook.call_batch_by_chunk(calls, halt_on_error=False)
    assert result.is_success, result.get_error_messages()[:3]
    return ids_digest([row["item"]["id"] for row in result.data])


# -- the runs ----------------------------------------------------------------------------------


def run_tool(
    tool: str,
    workload: str,
    url: str,
    certificate: str,
    count: int,
    rate_limit: str,
    pipeline: str | None,
    profile: bool = False,
    operating: str | None = None,
    parallel: int | None = None,
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(HERE / "compare_runner.py"),
        tool,
        workload,
        "--url",
        url,
        "--count",
        str(count),
        "--rate-limit",
        rate_limit,
    ]
    if pipeline:
        command += ["--pipeline", pipeline]
    if profile:
        command.append("--profile")
    if operating and tool == "b24sync":
        command += ["--operating", operating]
    if parallel is not None and tool == "b24sync":
        command += ["--parallel", str(parallel)]
    # this tree first; what PYTHONPATH held before (peers installed with pip --target) after it
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "REQUESTS_CA_BUNDLE": certificate, "PYTHONPATH": path}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"tool": tool, "workload": workload, "error": f"runner exited {done.returncode}: {tail}"}
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def installed(tool: str) -> str | None:
    try:
        return importlib.metadata.version(tool)
    except importlib.metadata.PackageNotFoundError:
        return None


def rate_limit(workload: str) -> str:
    return str(PORTALS[WORKLOADS[workload]["portal"]]["rate_limit"])


def operating_of(workload: str) -> str | None:
    """LIMIT/WINDOW of the workload's portal when it is not the cloud's 480/600, for b24sync's client."""
    portal = PORTALS[WORKLOADS[workload]["portal"]]
    if "operating_limit" not in portal:
        return None
    return f"{portal['operating_limit']}/{portal.get('operating_window', 600.0)}"


def expected_requests(workload: str, count: int) -> int:
    if "chains" in workload:
        return math.ceil(4 * count / 50)
    if workload.endswith("import"):
        # 20 records per crm.item.batchImport, at most 42 of those a request (planning/importing.py)
        return math.ceil(count / (MAX_IMPORTS_PER_REQUEST * 20))
    if workload == "read":
        return math.ceil((count // 50 + 1) / 50)  # pages, the last one short or empty, 50 a request
    return math.ceil(count / 50)


def demand(workload: str, count: int, path: str) -> dict[str, tuple[int, str]]:
    """Commands per method a workload sends, with each method's cost class: ``path`` adds or import."""
    if "chains" in workload:
        return {"crm.item.add": (3 * count, "add"), "tasks.task.add": (count, "add")}
    if path == "import":
        return {"crm.item.batchImport": (count, "import")}  # charged per element (emulator/costs.py)
    return {"crm.item.add": (count, "add")}


def physical_bound(workload: str, count: int, path: str, started: float | None = None) -> dict[str, float]:
    """The least wall time any client could take on this portal, and the three limits behind it.

    bucket: the first BURST requests at once, then RATE a second (protocol §7.1). server: all the
    server time over the workers, and no less than the average request's, since one request runs
    on one worker. operating, per method (§7.2): a charge counts in the basket its command ends in
    until ten baskets later, so any ten baskets in a row hold at most one budget. A budget holds a
    whole number of commands (of the import path, of import commands of 20 records), so ``refills``
    more budgets are needed after the first, and the commands left after the last refill run on as
    many workers as there are of them, none in less than one command's time. (Whole requests of the
    workload's size, as this bound counted until 2026-12-03, are no bound: a client may send a
    smaller request into what is left of a budget, and b24sync's imports took 619 s for 10,000
    records against such a "bound" of 628 s.) With ``refills`` budgets after the
    first, the charges span at least ``10 * refills + 1`` baskets; the run starts before the end of
    the first and ends after the start of the last, so it takes a whole window per refill less one
    basket. (Counting nine tenths of a window for every refill, as this bound did until 2026-12-02,
    gave 50,000 adds 5,420 s where no client can go below 5,960 s. Waiting for the whole first
    budget to expire, as a first cut did, is no bound either: b24sync took 588 s for 5,000 adds
    against such a "bound" of 590 s, since the rest needs only the room of the charges made first.)
    The bound is the largest of the three. ``started``: the unix time the run started at, which puts
    its first charge in a basket at some fraction of it: a run that starts that fraction into its
    basket ends that much less than a basket after the best-placed one could (``bound_at_start_s``).
    serial: the server time plus the network latency of each
    request, which is what a client sending one request at a time cannot go below.
    """
    from b24sync.emulator.costs import CLOUD

    portal = PORTALS[WORKLOADS[workload]["portal"]]
    model = CLOUD.with_costs(portal.get("costs", {}))
    workers = float(model.workers or 1)
    limit = float(portal.get("operating_limit", 480.0))
    window = float(portal.get("operating_window", 600.0))
    methods = demand(workload, count, path)
    if path == "import":
        requests = math.ceil(count / (MAX_IMPORTS_PER_REQUEST * 20))
    elif "chains" in workload:
        requests = expected_requests(workload, count)
    else:
        requests = math.ceil(count / 50)
    seconds = {m: n * model.seconds[kind] for m, (n, kind) in methods.items()}
    server = sum(seconds.values()) + requests * model.request
    basket = window / 10
    operating = 0.0
    for method, spent in seconds.items():
        if spent <= limit:
            operating = max(operating, spent / workers)
            continue
        # the least a client can send is one command (of an import, one of 20 records; a request may
        # hold fewer than the workload's): a budget holds `fits` of them whole, and the commands left
        # after the last refill run on at most that many workers, none faster than one
        records, kind = methods[method]
        units = math.ceil(records / 20) if kind == "import" else records
        each = spent / units
        fits = max(1, math.floor(limit / each))
        refills = math.ceil(units / fits) - 1
        left = units - refills * fits
        # the best start is at the end of a basket; a run started ``into`` of the way through one
        # cannot charge before it started, and the budget it spends there comes back no sooner
        into = (started % basket) / basket if started is not None else 1.0
        first = window - basket * into if refills else 0.0
        later = max(0, refills - 1) * window
        operating = max(operating, first + later + max(left * each / min(workers, left), each))
    bucket = max(0, requests - BURST) / RATE
    return {
        "bound_s": max(bucket, operating, server / workers, server / requests),
        "bucket_s": bucket,
        "operating_s": operating,
        "server_s": server,
        "server_over_workers_s": max(server / workers, server / requests),
        "serial_s": server + requests * model.latency,
        "workers": workers,
        "requests": requests,
    }


def bound_runs(workload: str, entry: dict[str, Any]) -> None:
    """Give each run of a cloud workload that knows when it started the bound for that moment."""
    for run in entry["runs"]:
        if "started_unix" in run:
            bound = physical_bound(workload, entry["count"], path_of(run, workload), run["started_unix"])
            run["bound_at_start_s"] = bound["bound_s"]


def measure_once(
    tool: str,
    workload: str,
    count: int,
    url: str,
    certificate: str,
    hook: B24Hook,
    pipeline: str | None,
    digest: str | None,
) -> dict[str, Any]:
    package = PACKAGES.get(VARIANTS.get(tool, tool), VARIANTS.get(tool, tool))
    if package != "b24sync" and installed(package) is None:
        return {
            "tool": tool,
            "workload": workload,
            "problems": [],
            "correct": False,
            "error": f"not installed (pip install {package}, or the [bench] extra)",
        }
    if workload != "read":
        control(url, certificate, "/_emulator/reset", post=True)
    before = control(url, certificate, "/_emulator/stats")
    print(f"  {tool} ...", end="", flush=True, file=sys.stderr)
    run = run_tool(
        "b24sync" if package == "b24sync" else tool,
        workload,
        url,
        certificate,
        count,
        rate_limit(workload),
        pipeline,
        operating=operating_of(workload),
        parallel=10 if tool == "b24sync-parallel10" else None,
    )
    run["tool"] = tool
    after = control(url, certificate, "/_emulator/stats")
    run["requests"] = after["requests"] - before["requests"]
    run["commands"] = after["commands"] - before["commands"]
    run["status_503"] = after["by_status"].get("503", 0) - before["by_status"].get("503", 0)
    # refusals by a limit, inside batches too: QUERY_LIMIT_EXCEEDED (503), OPERATION_TIME_LIMIT (429)
    refused = {k: v - before.get("refused", {}).get(k, 0) for k, v in after.get("refused", {}).items()}
    run["refused_503"] = refused.get("QUERY_LIMIT_EXCEEDED", 0)
    run["refused_429"] = refused.get("OPERATION_TIME_LIMIT", 0)
    run["server_s"] = after.get("server_seconds", 0.0) - before.get("server_seconds", 0.0)
    if workload == "read":
        run["stored"] = run.get("rows", 0)
        problems = []
        if run.get("rows") != count:
            problems.append(f"{run.get('rows', 0)} rows read, expected {count}")
        if run.get("distinct") != run.get("rows"):
            problems.append(f"{run.get('rows', 0) - run.get('distinct', 0)} duplicate rows")
        elif run.get("digest") != digest and run.get("rows") == count:
            problems.append("the ids read are not the ids stored")
    elif "chains" in workload:
        run["stored"], problems = check_chains(hook, count)
    else:
        run["stored"], problems = check_contacts(hook, count)
    if "error" in run:
        problems.insert(0, run["error"])
    run["problems"] = problems
    run["correct"] = not problems
    print(
        f" {run.get('wall_s', float('nan')):.2f} s, {run.get('cpu_s', float('nan')):.2f} s CPU, "
        f"{run['requests']} requests, {run['refused_503']} x 503, {run['refused_429']} x 429, "
        f"{'ok' if run['correct'] else '; '.join(problems)}",
        file=sys.stderr,
    )
    if RUNS_LOG is not None:
        # each run as it ends: a long workload stopped before the JSON is written keeps its figures
        with RUNS_LOG.open("a", encoding="utf-8") as log:
            log.write(json.dumps({"workload": workload, "count": count, "run": run}, sort_keys=True) + "\n")
    return run


RUNS_LOG: Path | None = None
"""Where ``measure_once`` appends every run as one JSON line (``--json``'s file + ``.runs.jsonl``)."""


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from the repeats of a tool: the run of median wall time, with the median CPU time;
    a failure in any repeat makes the row a failure."""
    failed = [r for r in runs if not r["correct"]]
    if failed:
        row = dict(failed[0])
        if len(runs) > 1:
            row["problems"] = [*row["problems"], f"wrong in {len(failed)} of {len(runs)} repeats"]
    else:
        row = dict(sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2])
        row["cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
        row["rss_peak_kib"] = max(r["rss_peak_kib"] for r in runs)
    if len(runs) > 1:
        row["repeats"] = [
            {k: r.get(k) for k in ("wall_s", "cpu_s", "requests", "status_503", "correct")} for r in runs
        ]
    return row


def measure(
    workload: str,
    tools: list[str],
    count: int,
    url: str,
    certificate: str,
    folder: Path,
    repeat: int,
    variants: bool = True,
) -> list[dict[str, Any]]:
    hook = checker(url, certificate, rate_limit(workload))
    pipeline = None
    if "chains" in workload:
        (folder / "chains.json").write_text(json.dumps([{"id": f"c{i:05d}", "n": i} for i in range(count)]))
        (folder / "chains.yaml").write_text(PIPELINE)
        pipeline = str(folder / "chains.yaml")
    digest = None
    if workload == "read":
        control(url, certificate, "/_emulator/reset", post=True)
        digest = seed(hook, count)
    if variants and WORKLOADS[workload]["portal"] in ("cloud", "budget") and "b24sync" in tools:
        tools = [
            *tools[: tools.index("b24sync") + 1],
            "b24sync-parallel10",
            *tools[tools.index("b24sync") + 1 :],
        ]
    if "chains" in workload and "fast_bitrix24" in tools:
        tools = [
            *tools[: tools.index("fast_bitrix24") + 1],
            "fast_bitrix24-matched",
            *tools[tools.index("fast_bitrix24") + 1 :],
        ]
    if workload not in SCRIPTED:
        tools = [tool for tool in tools if tool != "script"]
    by_tool: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    # the tools take turns in every repeat, so that a slow spell of the shared machine hits all alike
    for _ in range(repeat):
        for tool in tools:
            by_tool[tool].append(
                measure_once(tool, workload, count, url, certificate, hook, pipeline, digest)
            )
    hook.close()
    return [combine(runs) for runs in by_tool.values()]


def profile_b24sync(workload: str, count: int, url: str, certificate: str, folder: Path) -> str:
    pipeline = str(folder / "chains.yaml") if "chains" in workload else None
    if workload != "read":
        control(url, certificate, "/_emulator/reset", post=True)
    run = run_tool(
        "b24sync",
        workload,
        url,
        certificate,
        count,
        rate_limit(workload),
        pipeline,
        profile=True,
        operating=operating_of(workload),
    )
    return str(run.get("profile", run.get("error", "no profile")))


def scale_figures() -> Any:
    """tests/bench/scale.json (written by bench_scale.py) when it exists."""
    path = HERE / "scale.json"
    return json.loads(path.read_text()) if path.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs per tool on workloads 1-3 (default 3, 1 with --quick); "
        "the row shows the run of median wall time and the median CPU time",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write the docs and JSON")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only write docs/performance.md again from tests/bench/compare.json",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other workloads of tests/bench/compare.json and replace only those run now",
    )
    parser.add_argument(
        "--count",
        action="append",
        default=[],
        metavar="WORKLOAD=N",
        help="run WORKLOAD with N records instead of its own count (the issue's size for the cloud ones)",
    )
    parser.add_argument(
        "--json",
        default=str(HERE / "compare.json"),
        metavar="FILE",
        help="where the raw figures go (and, with --merge, come from); docs/performance.md is "
        "written only when it is tests/bench/compare.json",
    )
    parser.add_argument(
        "--merge-files",
        metavar="A,B",
        help="only merge the workloads of these JSON files (runs made with --json) into "
        "tests/bench/compare.json and write docs/performance.md from it",
    )
    parser.add_argument(
        "--no-parallel10",
        action="store_true",
        help="leave out the b24sync-parallel10 row (b24sync with --parallel 10) on the cloud workloads",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.merge_files:
        merged = json.loads((HERE / "compare.json").read_text())
        for name in args.merge_files.split(","):
            figures = json.loads(Path(name).read_text())
            # the header (date, machine, versions) of the newest run; every workload keeps its own date
            merged.update({k: v for k, v in figures.items() if k != "workloads"})
            merged["workloads"].update(figures["workloads"])
        name_commits(merged)
        for name, merged_entry in merged["workloads"].items():
            if "bounds" in merged_entry:  # the bound is a function of the workload alone: always today's
                merged_entry["bounds"] = {
                    path: physical_bound(name, merged_entry["count"], path) for path in merged_entry["bounds"]
                }
                bound_runs(name, merged_entry)
        (HERE / "compare.json").write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
        args.render = True
    if args.render:
        (ROOT / "docs" / "performance.md").write_text(
            render(json.loads((HERE / "compare.json").read_text()), scale_figures())
        )
        return
    counts: dict[str, int] = {}
    for spec in args.count:
        name, _, number = spec.partition("=")
        if name not in WORKLOADS or not number.isdigit() or int(number) < 1:
            parser.error(f"--count {spec!r}: give WORKLOAD=N with one of {', '.join(WORKLOADS)}")
        counts[name] = int(number)
    tools = [t for t in args.tools.split(",") if t]
    chosen = [w for w in args.workloads.split(",") if w]
    unknown = sorted(set(chosen) - set(WORKLOADS)) + sorted(set(tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown workload or tool: {', '.join(unknown)}")
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "machine": {
            "arch": platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.system(),
        },
        "versions": {t: installed(PACKAGES.get(t, t)) or "not installed" for t in TOOLS},
        "rate_limit": {"burst": BURST, "rate": RATE},
        "issue_sizes": {name: spec["issue"] for name, spec in WORKLOADS.items() if "issue" in spec},
        "workloads": {},
    }
    commit = measured_commit()
    results["versions"]["b24sync"] = f"{installed('b24sync') or '?'} (this tree, commit {commit})"
    output = Path(args.json)
    global RUNS_LOG
    RUNS_LOG = None if args.no_write else output.with_name(output.name + ".runs.jsonl")
    if args.merge and output.exists():
        # keep the workloads not run this time from the last full run, with its header
        previous = json.loads(output.read_text())
        previous["workloads"].update(results["workloads"])
        results["workloads"] = previous["workloads"]
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="b24sync-compare-")))
        portals: dict[str, tuple[str, str]] = {}
        for workload in chosen:
            spec = WORKLOADS[workload]
            count = counts.get(workload) or (spec["quick"] if args.quick else spec["count"])
            if spec["portal"] not in portals:
                portals[spec["portal"]] = stack.enter_context(
                    emulator(spec["portal"], folder / f"{spec['portal']}.log")
                )
            url, certificate = portals[spec["portal"]]
            print(f"{spec['title']}: {count}", file=sys.stderr)
            # workloads at a rate limit run once: they are paced by the portal, not by the machine
            paced = rate_limit(workload) == "standard"
            repeat = 1 if paced else args.repeat or (1 if args.quick else 3)
            runs = measure(workload, tools, count, url, certificate, folder, repeat, not args.no_parallel10)
            entry: dict[str, Any] = {
                "title": spec["title"],
                "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "commit": commit,
                "count": count,
                "issue_count": spec.get("issue"),
                "rate_limit": rate_limit(workload),
                "portal": spec["portal"],
                "portal_options": PORTALS[spec["portal"]],
                "repeat": repeat,
                "expected_requests": expected_requests(workload, count),
                "runs": runs,
            }
            if spec["portal"] == "limited":
                entry["bound_s"] = max(0, entry["expected_requests"] - BURST) / RATE
            if spec["portal"] in ("cloud", "budget"):
                entry["bounds"] = {
                    path: physical_bound(workload, count, path)
                    for path in (("adds", "import") if workload.endswith("import") else ("adds",))
                }
                bound_runs(workload, entry)
            ours = next((r for r in runs if r["tool"] == "b24sync" and r.get("correct")), None)
            # a peer that finished counts here even with a wrong result: if it was faster, say why
            peers = [
                r
                for r in runs
                if VARIANTS.get(r["tool"], r["tool"]) != "b24sync" and "wall_s" in r and "error" not in r
            ]
            if (
                not paced
                and ours is not None
                and peers
                and any(ours[k] > min(p[k] for p in peers) for k in ("wall_s", "cpu_s"))
            ):
                print("  b24sync is slower than a peer here: profiling it", file=sys.stderr)
                entry["profile"] = profile_b24sync(workload, count, url, certificate, folder)
            results["workloads"][workload] = entry
    name_commits(results)
    text = render(results, scale_figures())
    if args.no_write:
        print(text)
        return
    output.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if output.resolve() != (HERE / "compare.json").resolve():
        print(f"wrote {output}", file=sys.stderr)
        return
    (ROOT / "docs" / "performance.md").write_text(text)
    print(f"wrote {ROOT / 'docs' / 'performance.md'} and {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
