"""docs/performance.md from the raw figures of compare.py (and bench_scale.py's, when present).

Every figure and every sentence that states one is computed here from the results; the text that
is fixed only says how the figures were taken.
"""

from __future__ import annotations

import math
import re
from typing import Any

TOOLS = ("b24sync", "fast_bitrix24", "b24pysdk", "script")
SCRIPT_CPU_TARGET = 1.2
"""Issue 16: apply's CPU at most this many times the hand-written script's."""
REQUEST_DEADLINE = 60.0
"""Seconds one cloud request may take (protocol §7.3; b24sync.bitrix.limits.REQUEST_DEADLINE)."""

HOW = """\
## How each tool was driven

Run it yourself: install the peers (`pip install fast_bitrix24 b24pysdk`, or the `bench` extra of
pyproject.toml), then `python tests/bench/compare.py` (the workloads on the cloud profile sleep the
portal's modelled server time, so they take minutes), `python tests/bench/compare.py --quick` for a
smoke run, or `--workloads NAME,... --merge` to measure some workloads again and keep the others.

Every run is a fresh Python process (`tests/bench/compare_runner.py`) that imports the tool, builds
its client and its inputs, and only then starts the clocks, so imports and input building are not
counted (b24sync's `import b24sync` loads its names on first use, so the runner takes `b24sync.apply`
before the clock too, as a peer's import loads its package). Wall time is `time.perf_counter`,
client CPU time is `time.process_time` of that process (all its threads), measured around the
workload call alone; "process CPU" is the whole process's (`getrusage`) until the workload ended:
interpreter start, imports and inputs included. Memory is the process's peak resident set size
(`VmHWM` in `/proc/self/status`; not `ru_maxrss`, which on Linux carries the parent's peak over
a fork), shown as the peak and as its growth during the workload. Requests, 503s and the refusals
by a limit (inside batches too) are the emulator's own counters; the emulator runs in separate
processes, so its CPU time is in no client's figure. Records stored are read back from the emulator
after each run: the add workloads check that every contact is there exactly once; the chains check
the four record counts and, for every chain, that the contact's `companyId`, the deal's `contactId`
and the task's `UF_CRM_TASK` point at the records of the same chain; the read checks that the ids
read are exactly the ids stored.

b24sync runs as a user runs it: `b24sync.apply(pipeline_file, client, report=...)`, the library
function behind `b24sync apply FILE --report report.json`, with the field check left out
(`contract=False`: it reads the portal's fields with two requests of its own, which would blur the
request counts). The pipeline of the add workloads is one `for_each` step over a JSON file of the
contacts; the chains are four `for_each` steps over one data file linked by
`{{ steps.X[item.id].item.id }}`; the import workload is the add pipeline with `mode: import`. Only
the read workload uses the library (`call_fast_list_method`), since a pipeline has no step that
only reads; its row says so.

| Workload | b24sync | fast_bitrix24 | b24pysdk | script |
|---|---|---|---|---|
| adds | `apply` of the add pipeline | `Bitrix(url).call("crm.item.add", items)` | `client.call_batches([client.crm.item.add(entity_type_id=3, fields=...), ...])` | 50 commands a `batch` POST |
| chains | `apply` of the chain pipeline | one `call` per dependency level, results taken in item order as the README promises; `fast_bitrix24-matched`: the same, results matched to items by the title or name they echo | one `call_batches` per dependency level, keyed by chain | 12 whole chains a `batch` POST, linked by `$result[...]` |
| read | `call_fast_list_method("crm.contact.list", {"select": [...]})` (library) | `get_all("crm.contact.list", {"select": [...]})` | `client.crm.contact.list(select=[...]).as_list_fast()` | not run |

**script** is what a user writes by hand with `requests` alone (`compare_runner.script_tool`, about
40 lines): each command's query built with `urllib.parse.quote`, posted to `batch.json` with
`halt=0`, the ids read from the answer; no pacing, no retries, no report, no record of what was
sent. It is the floor issue 16 holds b24sync's CPU to (at most 1.2 times it), not a peer: it runs
only on the emulator without limits, where it cannot be refused.

The emulator serves https with a self-signed certificate, because b24pysdk only builds `https://` URLs.
b24sync and b24pysdk trust the certificate through `REQUESTS_CA_BUNDLE`; fast_bitrix24 is given
`ssl=False`, its README's answer to an unverifiable certificate. fast_bitrix24 runs with
`verbose=False` and, on the emulator without limits, `requests_per_second=10000` (its own leaky bucket
would otherwise hold it to the standard rate); b24sync runs with `rate_limit="off"` there. At a rate
limit every tool runs with its defaults; b24sync's client is told the operating budget of the portal
(`B24Hook(operating_limit=..., operating_window=...)`) when it is not the cloud's.

**The cloud profile** (`Emulator(profile="cloud")`, docs/emulator.md) gives every command a server time
by its method's class, every request an overhead and a network latency, serves a bounded number of
requests at once, and charges each method's operating budget. The **bound** of a workload is the
least wall time any client could take there with that many requests: the largest of the
leaky-bucket bound (the first burst at once, then the drain rate), the operating bound (per method:
any ten baskets in a row hold at most one budget, so the first refill comes at best nine tenths of
the window after the start and each later one a whole window after the one before; a budget holds a
whole number of commands (of import commands of 20 records on the import path: a client may send a
smaller request into what is left of a budget), and those left after the last refill run side by
side, none in less than one command's time), and the server time over the workers (no less than the average
request's, as one request runs on one worker). The operating bound is given for the best start, at
the end of a basket; each run is held to the bound for the second it started, since a run that
starts some way into a basket cannot charge before it started, and its first budget comes back that
much later than the best-placed run's (`bound_at_start_s` in the JSON; the rows before 2026-12-02
did not record their start and are held to the best). The **serial** time is the server time plus
one latency per request: what a client sending one request at a time cannot go below. b24sync runs
with its default `--parallel`, measured from the
server time its answers report.
"""


def _writes(run: dict[str, Any], want: int) -> int:
    """The requests of a run that sent its workload: ``apply`` makes one ``scope`` call before its
    first write (the pre-flight); with nothing refused nothing was sent again, so one request more
    than the minimum is that call."""
    preflight = (
        run.get("via") == "apply"
        and run["requests"] == want + 1
        and not run.get("refused_503")
        and not run.get("refused_429")
    )
    return int(run["requests"]) - int(preflight)


def _peer(tool: str) -> bool:
    """A peer's row, not one of b24sync's (``b24sync-parallel10`` is b24sync with ``--parallel 10``)
    nor the hand-written script's (the floor of CPU time, not a tool to beat)."""
    return not tool.startswith("b24sync") and tool != "script"


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(peer: Any, ours: Any) -> str:
    if peer is None or ours in (None, 0):
        return "-"
    return f"{peer / ours:.2f}x"


def _name(run: dict[str, Any]) -> str:
    via = run.get("via")
    return f"{run['tool']} ({via})" if via else run["tool"]


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _verdict(run: dict[str, Any]) -> str:
    return "yes" if run["correct"] else "**no**: " + "; ".join(_short(p) for p in run["problems"])


def _base(run: dict[str, Any], ours: dict[str, Any] | None) -> dict[str, Any] | None:
    # a run that stopped with an error did less work: its ratios would only mislead
    return ours if ours is not None and run["tool"] != "b24sync" and "error" not in run else None


def _run_row(run: dict[str, Any], ours: dict[str, Any] | None) -> str:
    if "wall_s" not in run:
        return f"| {_name(run)} | - | - | - | - | - | - | - | **could not run:** {run.get('error', '?')} | - | - | - |"
    growth = (run["rss_peak_kib"] - run["rss_before_kib"]) / 1024
    base = _base(run, ours)
    ratios = (
        ("-", "-", "-")
        if base is None
        else (
            _ratio(run["requests"], base["requests"]),
            _ratio(run["wall_s"], base["wall_s"]),
            _ratio(run["cpu_s"], base["cpu_s"]),
        )
    )
    return (
        f"| {_name(run)} | {run['requests']} | {_num(run['wall_s'])} | {_num(run['cpu_s'])} | "
        f"{_num(run.get('process_cpu_s'))} | "
        f"{run['rss_peak_kib'] / 1024:.0f} (+{growth:.0f}) | {run['status_503']} | {run['stored']} | "
        f"{_verdict(run)} | {ratios[0]} | {ratios[1]} | {ratios[2]} |"
    )


def path_of(run: dict[str, Any], workload: str) -> str:
    """Which bound a run is measured against: b24sync imports on the import workload, all else adds."""
    return "import" if workload.endswith("import") and not _peer(run["tool"]) else "adds"


def run_bound(run: dict[str, Any], entry: dict[str, Any], workload: str) -> float:
    """The bound a run is held to: the one for the second it started when it says, else the best."""
    best = float(entry["bounds"][path_of(run, workload)]["bound_s"])
    return float(run.get("bound_at_start_s", best))


def _cloud_row(run: dict[str, Any], ours: dict[str, Any] | None, entry: dict[str, Any], workload: str) -> str:
    if "wall_s" not in run:
        return (
            f"| {_name(run)} | - | - | - | - | - | - | - | **could not run:** {run.get('error', '?')} | - |"
        )
    bound = run_bound(run, entry, workload)
    run_ratio = run["wall_s"] / bound
    base = _base(run, ours)
    return (
        f"| {_name(run)} | {run['requests']} | {_num(run['wall_s'])} | {_num(run['cpu_s'])} | "
        f"{bound:.1f} | {f'{run_ratio:.2f}' if run['correct'] else '-'} | {run.get('refused_503', 0)} | "
        f"{run.get('refused_429', 0)} | {run['stored']} | {_verdict(run)} | "
        f"{'-' if base is None else _ratio(run['wall_s'], base['wall_s'])} |"
    )


def _bound_line(path: str, bound: dict[str, float], entry: dict[str, Any]) -> str:
    options = entry.get("portal_options", {})
    budget = f"{options.get('operating_limit', 480.0):g} s per {options.get('operating_window', 600.0):g} s"
    return (
        f"- bound of {'`mode: import`' if path == 'import' else 'crm.item.add'} "
        f"({bound['requests']:.0f} requests): **{bound['bound_s']:.1f} s** = max(bucket "
        f"{bound['bucket_s']:.1f} s, operating {bound['operating_s']:.1f} s at {budget}, server "
        f"{bound['server_s']:.1f} s / {bound['workers']:.0f} workers = {bound['server_over_workers_s']:.1f} s); "
        f"serial {bound['serial_s']:.1f} s"
    )


def _section(name: str, entry: dict[str, Any]) -> list[str]:
    runs = entry["runs"]
    ours = next((r for r in runs if r["tool"] == "b24sync" and "wall_s" in r), None)
    title = f"### {entry['title']}: {entry['count']:,}"
    if entry.get("issue_count") and entry["issue_count"] != entry["count"]:
        title += f" (issue 17's size is {entry['issue_count']:,}: not measured at that size)"
    if "bound_s" in entry:
        title += f" (leaky-bucket bound {entry['bound_s']:.1f} s for {entry['expected_requests']} requests)"
    lines = [title, ""]
    if entry.get("measured"):
        at = f" at commit {entry['commit']}" if entry.get("commit") else ""
        lines += [f"Measured {entry['measured']}{at}.", ""]
    if "bounds" in entry:
        lines += [_bound_line(path, bound, entry) for path, bound in entry["bounds"].items()]
        lines += [
            "",
            "| Tool | Requests | Wall s | CPU s | Bound s | Wall / bound | 503 | 429 | Stored | Correct | "
            "Wall ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [_cloud_row(run, ours, entry, name) for run in runs]
    else:
        lines += [
            "| Tool | Requests | Wall s | CPU s | Process CPU s | Peak MiB (+growth) | 503s | Stored | "
            "Correct | Req ratio | Wall ratio | CPU ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [_run_row(run, ours) for run in runs]
    if "ncalls" in entry.get("profile", ""):
        lines += [
            "",
            "A peer beat b24sync on wall or CPU time here (see the ratios below 1), so here is "
            "b24sync's profile on this workload (cProfile, sorted by own time, top entries; "
            "cProfile itself slows the run):",
            "",
            "```",
            # b24sync's files by their place in the tree, not in the checkout that measured them
            re.sub(r"/\S*/(?=b24sync/)", "", entry["profile"].rstrip()),
            "```",
        ]
    return [*lines, ""]


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def _targets(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Targets and whether they are met",
        "",
        "| Target | Workload | Measured | Met |",
        "|---|---|---|---|",
    ]
    for name, entry in results["workloads"].items():
        runs = {r["tool"]: r for r in entry["runs"]}
        ours = runs.get("b24sync")
        if ours is None or "wall_s" not in ours:
            lines.append(f"| all | {entry['title']} | b24sync did not run | **no** |")
            continue
        want = entry["expected_requests"]
        preflight = ours["requests"] - _writes(ours, want)
        lines.append(
            f"| write requests = the minimum | {entry['title']} | {ours['requests'] - preflight} "
            f"(minimum {want}{'; besides the pre-flight scope call' if preflight else ''}) | "
            f"{_yes(ours['requests'] - preflight == want)} |"
        )
        peers = [r for t, r in runs.items() if _peer(t) and "wall_s" in r and r["correct"]]
        if name == "chains":
            writes = _writes(ours, want)
            for peer in (r for t, r in runs.items() if _peer(t) and "wall_s" in r):
                ratio = peer["requests"] / writes if writes else 0
                lines.append(
                    f"| at least 3x fewer requests than {peer['tool']} | {entry['title']} | "
                    f"{peer['requests']} / {writes} = {ratio:.2f}x | {_yes(ratio >= 3)} |"
                )
        keys = (
            (("wall_s", "wall time"),)
            if "bounds" in entry
            else (("wall_s", "wall time"), ("cpu_s", "client CPU"))
        )
        for key, label in keys:
            if not peers:
                ran = any(_peer(t) and "wall_s" in r for t, r in runs.items())
                why = "no peer finished correctly" if ran else "no peer was run (b24sync alone)"
                lines.append(f"| {label} no slower than the fastest peer | {entry['title']} | {why} | - |")
                continue
            best = min(peers, key=lambda r: r[key])
            lines.append(
                f"| {label} no slower than the fastest correct peer | {entry['title']} | "
                f"{ours[key]:.2f} s vs {best['tool']} {best[key]:.2f} s | "
                f"{_yes(ours[key] <= best[key] and ours['correct'])} |"
            )
        script = runs.get("script")
        if script is not None and "cpu_s" in script and script["correct"]:
            ratio = ours["cpu_s"] / script["cpu_s"]
            lines.append(
                f"| client CPU <= {SCRIPT_CPU_TARGET} x the hand-written script | {entry['title']} | "
                f"{ours['cpu_s']:.2f} s / {script['cpu_s']:.2f} s = {ratio:.2f} x | "
                f"{_yes(ratio <= SCRIPT_CPU_TARGET and ours['correct'])} |"
            )
        if "bound_s" in entry:
            bound = entry["bound_s"]
            over = ours["wall_s"] / bound - 1 if bound else 0.0
            lines.append(
                f"| within 5% of the leaky-bucket bound | {entry['title']} | {ours['wall_s']:.2f} s vs "
                f"{bound:.2f} s ({over:+.1%}) | {_yes(abs(over) <= 0.05)} |"
            )
        if "bound_s" in entry or "bounds" in entry:
            lines.append(
                f"| zero 503s | {entry['title']} | {ours['status_503']} | {_yes(ours['status_503'] == 0)} |"
            )
        if "bounds" in entry:
            best = entry["bounds"][path_of(ours, name)]["bound_s"]
            bound = run_bound(ours, entry, name)
            lines.append(
                f"| zero 429s | {entry['title']} | {ours.get('refused_429', 0)} | "
                f"{_yes(ours.get('refused_429', 0) == 0)} |"
            )
            at_start = (
                f" (at the best start {best:.1f} s: {ours['wall_s'] / best:.3f})" if bound != best else ""
            )
            lines.append(
                f"| wall <= 1.10 x the bound | {entry['title']} | {ours['wall_s']:.1f} s / {bound:.1f} s = "
                f"{ours['wall_s'] / bound:.3f}{at_start} | {_yes(ours['wall_s'] <= 1.10 * bound)} |"
            )
        if not ours["correct"]:
            lines.append(f"| correct result | {entry['title']} | {'; '.join(ours['problems'])} | **no** |")
    return lines


def _run(results: dict[str, Any], workload: str, tool: str) -> dict[str, Any] | None:
    entry = results["workloads"].get(workload)
    return None if entry is None else next((r for r in entry["runs"] if r["tool"] == tool), None)


def _findings(results: dict[str, Any]) -> list[str]:
    lines = ["## What the figures say", ""]
    workloads = results["workloads"]
    chains, small = _run(results, "chains", "b24sync"), _run(results, "chains_small", "b24sync")
    peer_chains = [
        r for r in workloads.get("chains", {}).get("runs", []) if _peer(r["tool"]) and "wall_s" in r
    ]
    if chains and peer_chains and "requests" in chains:
        count = workloads["chains"]["count"]
        fewest = min(r["requests"] for r in peer_chains)
        writes = _writes(chains, workloads["chains"]["expected_requests"])
        ratio = fewest / writes if writes else 0.0
        lines.append(
            f"- **Requests on the chains.** b24sync sent {writes} write requests for {4 * count:,} "
            f"commands (the minimum is {math.ceil(4 * count / 50)}); the peers, one dependency level at "
            f"a time, {fewest} at the fewest ({ratio:.2f}x)."
            + (
                f" With {workloads['chains_small']['count']} chains, b24sync sent "
                f"{_writes(small, workloads['chains_small']['expected_requests'])} "
                f"against {min(r['requests'] for r in workloads['chains_small']['runs'] if r['tool'] != 'b24sync' and 'wall_s' in r)} "
                "for the fewest peer."
                if small and "requests" in small and "chains_small" in workloads
                else ""
            )
        )
    for entry in workloads.values():
        for run in entry["runs"]:
            if _peer(run["tool"]) and "wall_s" in run and not run["correct"]:
                lines.append(
                    f"- **{run['tool']} was wrong on {entry['title']}:** {'; '.join(map(_short, run['problems']))}."
                )
    for name, entry in workloads.items():
        if "bounds" not in entry:
            continue
        ours = next((r for r in entry["runs"] if r["tool"] == "b24sync" and "wall_s" in r), None)
        if ours is None:
            continue
        bound = entry["bounds"][path_of(ours, name)]
        held = run_bound(ours, entry, name)
        start = (
            f" for the second it started ({bound['bound_s']:.1f} s at the best start)"
            if held != bound["bound_s"]
            else ""
        )
        refused = {
            r["tool"]: (r.get("refused_503", 0), r.get("refused_429", 0))
            for r in entry["runs"]
            if "wall_s" in r
        }
        others = "; ".join(f"{t} {a} and {b}" for t, (a, b) in refused.items() if _peer(t))
        lines.append(
            f"- **{entry['title']}:** b24sync took {ours['wall_s']:.1f} s, {ours['wall_s'] / held:.2f} x "
            f"the bound of {held:.1f} s{start} and {ours['wall_s'] / bound['serial_s']:.2f} x the serial time of "
            f"{bound['serial_s']:.1f} s, with {refused['b24sync'][0]} requests refused by the bucket and "
            f"{refused['b24sync'][1]} commands by the operating limit"
            + (f" (the peers: {others})." if others else ".")
        )
        fixed = next((r for r in entry["runs"] if r["tool"] == "b24sync-parallel10" and "wall_s" in r), None)
        if fixed is not None:
            lines.append(
                f"- **{entry['title']}, `--parallel 10`:** {fixed['wall_s']:.1f} s, "
                f"{fixed['wall_s'] / run_bound(fixed, entry, name):.2f} x the bound, against {ours['wall_s']:.1f} s with "
                "the measured default (which starts at one request in flight and grows from the answers)."
            )
        if path_of(ours, name) == "import" and ours.get("requests"):
            adds = entry["bounds"]["adds"]
            writes = _writes(ours, entry["expected_requests"])
            per_request = bound["server_s"] / writes
            lines.append(
                f"- **`mode: import`:** {entry['count']:,} records in {writes} write request(s) against "
                f"{adds['requests']:.0f} of crm.item.add, and {bound['server_s']:.1f} s of server time against "
                f"{adds['server_s']:.1f} s; one request holds {per_request:.1f} s of it, "
                + (
                    f"past the {REQUEST_DEADLINE:.0f} s a cloud request may take (protocol §7.3)."
                    if per_request > REQUEST_DEADLINE
                    else f"within the {REQUEST_DEADLINE:.0f} s a cloud request may take (protocol §7.3)."
                )
            )
    # where the operating budget does not hold a run back, a client sending one request at a time
    # is bound by the serial time
    over_serial = [
        r["wall_s"] / bound["serial_s"]
        for name, entry in workloads.items()
        if "bounds" in entry
        for r in entry["runs"]
        if r["tool"] == "b24sync" and "wall_s" in r and r["correct"]
        for bound in [entry["bounds"][path_of(r, name)]]
        if bound["operating_s"] < bound["serial_s"]
    ]
    if over_serial:
        lines.append(
            "- **Against one request at a time.** Where the operating budget did not hold it back, b24sync "
            f"took {min(over_serial):.2f} to {max(over_serial):.2f} x the serial time, below which a client "
            "sending one request at a time cannot go (below 1: requests in parallel on the portal's workers)."
        )
    return lines


def _sizes(results: dict[str, Any]) -> list[str]:
    """Which of issue 17's sizes of the cloud workloads were measured, and which were not."""
    wanted = results.get("issue_sizes") or {}
    if not wanted:
        return []
    lines = ["Issue 17's sizes on the cloud profile, and what was measured:", ""]
    for name, size in wanted.items():
        entry = results["workloads"].get(name)
        if entry is None:
            lines.append(f"- `{name}` ({size:,}): not measured")
        elif entry["count"] == size:
            lines.append(f"- `{name}` ({size:,}): measured at that size on {entry.get('measured', '?')}")
        else:
            lines.append(
                f"- `{name}` ({size:,}): not measured at that size; measured at {entry['count']:,} "
                f"on {entry.get('measured', '?')}"
            )
    return [*lines, ""]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def _scale(scale: Any) -> list[str]:
    """bench_scale.py's figures (tests/bench/scale.json): one table of its sizes, as it wrote them."""
    if isinstance(scale, list):
        rows: list[dict[str, Any]] = scale
    else:
        rows = scale.get("sizes", scale.get("rows", []))
    lines = ["## At scale (tests/bench/bench_scale.py, figures from tests/bench/scale.json)", ""]
    for key in ("bench", "command", "machine", "date", "note"):
        if isinstance(scale, dict) and key in scale:
            lines.append(
                f"- {key}: `{scale[key]}`" if key in ("bench", "command") else f"- {key}: {scale[key]}"
            )
    if not rows:
        return [*lines, "", "(scale.json holds no rows)", ""]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines += [
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return [*lines, "", *_scale_targets(rows), ""]


SCALE_TARGETS = {100_000: ("apply_peak_rss_mib", 200), 1_000_000: ("apply_peak_rss_mib", 400)}
"""Issue 16's memory targets: peak RSS of ``apply`` in MiB at these sizes."""
PLAN_TARGET_US = 30.0
REPORT_TARGET_MB = (100_000, 15.0)


def _scale_targets(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 16's targets against the figures of the table, one sentence each (nothing when unmeasured)."""
    by_rows = {row.get("rows"): row for row in rows if not row.get("mode")}  # the crm.item.add rows
    found = []
    for size, (column, limit) in SCALE_TARGETS.items():
        row = by_rows.get(size)
        if row is not None and row.get("apply_measured", True) and isinstance(row.get(column), (int, float)):
            verdict = "within" if row[column] <= limit else "over"
            found.append(
                f"- apply of {size:,} rows peaked at {row[column]:,} MiB, {verdict} the target of {limit} MiB "
                f"(measured {row.get('measured_at', 'at an unknown time')})."
            )
    for row in rows:
        if row.get("mode") != "import" or not isinstance(row.get("apply_peak_rss_mib"), (int, float)):
            continue
        adds = by_rows.get(row["rows"], {})
        beside = (
            f" (the same rows as `crm.item.add` commands: {adds['apply_peak_rss_mib']:,} MiB)"
            if isinstance(adds.get("apply_peak_rss_mib"), (int, float))
            else ""
        )
        found.append(
            f"- apply of {row['rows']:,} rows with `mode: import` peaked at {row['apply_peak_rss_mib']:,} MiB"
            f"{beside}, in {row.get('apply_wall_s')} s wall and {row.get('apply_cpu_s')} s CPU, with a "
            f"{row.get('report_mb')} MB report (measured {row.get('measured_at', 'at an unknown time')})."
        )
    for row in rows:
        if not isinstance(row.get("resume_peak_rss_mib"), (int, float)):
            continue
        size = row["rows"]
        target = SCALE_TARGETS.get(size) if not row.get("mode") else None
        mode = f" with `mode: {row['mode']}`" if row.get("mode") else ""
        against = ""
        if target is not None:
            verdict = "within" if row["resume_peak_rss_mib"] <= target[1] else "over"
            against = f", {verdict} the apply target of {target[1]} MiB"
        stored = row.get("resume_stored")
        found.append(
            f"- apply of {size:,} rows{mode} stopped with SIGTERM after {row.get('resume_carried', 0):,} "
            f"{'records' if mode else 'commands'} "
            f"and finished with `--resume`: the resumed run peaked at {row['resume_peak_rss_mib']:,} MiB"
            f"{against}, in {row.get('resume_wall_s')} s wall and {row.get('resume_cpu_s')} s CPU; the "
            f"portal then held {stored:,} records"
            + (", one per row" if stored == size else f", not one per row of the {size:,}")
            + f" (measured {row.get('measured_at', 'at an unknown time')})."
        )
    speeds = [
        (row["rows"], row["load_plan_us_per_command"]) for row in rows if "load_plan_us_per_command" in row
    ]
    if speeds:
        over = [f"{size:,}" for size, us in speeds if us > PLAN_TARGET_US]
        shown = ", ".join(f"{us} us at {size:,}" for size, us in speeds)
        found.append(
            f"- load + plan took {shown} per command: "
            + (
                f"over the target of {PLAN_TARGET_US:g} us at {', '.join(over)} rows."
                if over
                else f"within the target of {PLAN_TARGET_US:g} us at every size."
            )
        )
        kernel = [
            f"{row['load_plan_sys_us_per_command']} us at {row['rows']:,}"
            for row in rows
            if isinstance(row.get("load_plan_sys_us_per_command"), (int, float))
        ]
        if kernel:
            found.append(
                f"- of that, system CPU time (in the kernel, for the process): "
                f"{', '.join(kernel)} per command."
            )
    size, limit_mb = REPORT_TARGET_MB
    row = by_rows.get(size)
    if row is not None and isinstance(row.get("report_mb"), (int, float)):
        verdict = "within" if row["report_mb"] <= limit_mb else "over"
        found.append(
            f"- the report of {size:,} rows ({row.get('report_results', '?')}) is {row['report_mb']} MB, "
            f"{verdict} the target of {limit_mb:g} MB."
        )
    return found


def _ordered(workloads: dict[str, Any]) -> dict[str, Any]:
    """The workloads by their number ("1.", "2.", "2b.", ...): compare.json keeps them sorted by name."""
    return dict(sorted(workloads.items(), key=lambda item: item[1]["title"].split(" ", 1)[0]))


def render(results: dict[str, Any], scale: Any = None) -> str:
    """The whole of docs/performance.md."""
    machine, versions = results["machine"], results["versions"]
    lines = [
        "# Performance: b24sync beside fast_bitrix24 and b24pysdk",
        "",
        "Measured by `python tests/bench/compare.py` (raw figures in `tests/bench/compare.json`) on the",
        "emulator over https on loopback."
        + (" **This is a `--quick` run (small counts).**" if results["quick"] else ""),
        "",
        f"- Date: {results['date']}",
        f"- Machine: {machine['system']} {machine['arch']}, {machine['cores']} cores (shared with other work "
        "while measuring), Python " + machine["python"],
        "- Versions: "
        + ", ".join(
            f"script (requests {versions[t]})" if t == "script" else f"{t} {versions[t]}"
            for t in TOOLS
            if t in versions
        ),
        "",
        "Columns: HTTP requests the emulator received; wall and client CPU seconds of the workload; peak",
        "resident memory of the client process in MiB (growth during the workload in brackets); 503 answers",
        "received; records stored (read back: rows read for the read workload); whether the result is correct;",
        "and the ratios peer / b24sync (above 1 means b24sync is ahead). On the cloud profile: the bound of",
        "each row's requests for the second the row's run started (below), wall / bound, and the requests",
        "(503) and commands (429) refused by a limit.",
        "Workloads without a rate limit run every tool several times in turn (`repeat` in the JSON); a row",
        "shows the run of median wall time with the median CPU time, and is marked wrong if any repeat was.",
        "",
    ]
    lines += _sizes(results)
    for name, entry in _ordered(results["workloads"]).items():
        lines += _section(name, entry)
    ordered = {**results, "workloads": _ordered(results["workloads"])}
    lines += _targets(ordered)
    lines += ["", *_findings(ordered), ""]
    if scale is not None:
        lines += _scale(scale)
    lines.append(HOW)
    return "\n".join(lines).replace("\n\n\n", "\n\n")
