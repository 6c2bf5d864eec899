"""docs/performance.md from the raw figures of compare.py: the table, the targets, how each tool ran."""

from __future__ import annotations

import math
from typing import Any

TOOLS = ("b24sync", "fast_bitrix24", "b24pysdk")

HOW = """\
## How each tool was driven

Run it yourself: install the peers (`pip install fast_bitrix24 b24pysdk`, or the `bench` extra of
pyproject.toml), then `python tests/bench/compare.py` (a few minutes; workload 4 alone takes about
25 s per tool by design) or `python tests/bench/compare.py --quick` for a smoke run.

Every run is a fresh Python process (`tests/bench/compare_runner.py`) that imports the tool, builds
its client and its inputs, and only then starts the clocks, so imports and input building are not
counted. Wall time is `time.perf_counter`, client CPU time is `time.process_time` of that process (all
its threads), measured around the workload call alone. Memory is the process's peak resident set size
(`VmHWM` in `/proc/self/status`; not `ru_maxrss`, which on Linux carries the parent's peak over
a fork), shown as the peak and as its growth during the workload; it
includes the interpreter and the imported libraries, so the growth is the fairer comparison.
tracemalloc was not used: it slows allocation-heavy code several times and would distort the time
columns. Requests and 503s are the emulator's own counters (the emulator runs in separate processes,
so its CPU time is in no client's figure). Records stored are read back from the emulator after each
run: workloads 1 and 4 check that every contact is there exactly once; workload 2 checks the four
record counts and, for every chain, that the contact's `companyId`, the deal's `contactId` and the
task's `UF_CRM_TASK` point at the records of the same chain; workload 3 checks that the ids read are
exactly the ids stored.

The emulator serves https with a self-signed certificate, because b24pysdk only builds `https://` URLs
(`https://{domain}/rest/...`). b24sync and b24pysdk trust the certificate through `requests`'
`REQUESTS_CA_BUNDLE`; fast_bitrix24 is given `ssl=False`, its README's answer to an unverifiable
certificate.

| Workload | b24sync | fast_bitrix24 | b24pysdk |
|---|---|---|---|
| 1, 4 adds | `B24Hook.call_batch_by_chunk([["crm.item.add", params], ...], halt_on_error=False)` | `Bitrix(url).call("crm.item.add", items)` | `client.call_batches([client.crm.item.add(entity_type_id=3, fields=...), ...])` |
| 2 chains | a pipeline file (four `for_each` steps over one data file, links `{{ steps.X[item.id].item.id }}`), `plan_file` + `execute`; planning time included | one `call` per dependency level, results taken in item order as the README promises; `fast_bitrix24-matched`: the same, results matched to items by the title or name they echo | one `call_batches` per dependency level, keyed by chain so results map back by key |
| 3 read | `call_fast_list_method("crm.contact.list", {"select": [...]})` | `get_all("crm.contact.list", {"select": [...]})` | `client.crm.contact.list(select=[...]).as_list_fast()` |

Settings: fast_bitrix24 runs with `verbose=False` (no tqdm bar) and, on the emulator without limits,
`requests_per_second=10000` (its own leaky bucket would otherwise hold it to 2 requests/s after 50);
b24sync runs with `rate_limit="off"` there. In workload 4 every tool runs with its defaults: b24sync's
and fast_bitrix24's standard leaky bucket (50, 2/s); b24pysdk has no client-side limiter and relies on
its retries of 503 answers (3 attempts, 1 s then 2 s apart).
"""


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(peer: Any, ours: Any) -> str:
    if peer is None or ours in (None, 0):
        return "-"
    return f"{peer / ours:.2f}x"


def _run_row(run: dict[str, Any], ours: dict[str, Any] | None) -> str:
    if "wall_s" not in run:
        return (
            f"| {run['tool']} | - | - | - | - | - | - | **could not run:** {run.get('error', '?')} "
            "| - | - | - |"
        )
    growth = (run["rss_peak_kib"] - run["rss_before_kib"]) / 1024
    verdict = "yes" if run["correct"] else "**no**: " + "; ".join(run["problems"])
    # a run that stopped with an error did less work: its ratios would only mislead
    base = ours if ours is not None and run["tool"] != "b24sync" and "error" not in run else None
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
        f"| {run['tool']} | {run['requests']} | {_num(run['wall_s'])} | {_num(run['cpu_s'])} | "
        f"{run['rss_peak_kib'] / 1024:.0f} (+{growth:.0f}) | {run['status_503']} | {run['stored']} | "
        f"{verdict} | {ratios[0]} | {ratios[1]} | {ratios[2]} |"
    )


def _targets(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Targets (issue 8) and whether they are met",
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
        lines.append(
            f"| requests = ceil(commands / 50) | {entry['title']} | {ours['requests']} "
            f"(expected {want}) | {'yes' if ours['requests'] == want else '**no**'} |"
        )
        peers = [r for t, r in runs.items() if t != "b24sync" and "wall_s" in r and r["correct"]]
        if name.startswith("chains"):
            for peer in (r for t, r in runs.items() if t != "b24sync" and "wall_s" in r):
                ratio = peer["requests"] / ours["requests"] if ours["requests"] else 0
                lines.append(
                    f"| at least 3x fewer requests than {peer['tool']} | {entry['title']} | "
                    f"{peer['requests']} / {ours['requests']} = {ratio:.2f}x | "
                    f"{'yes' if ratio >= 3 else '**no**'} |"
                )
        wrong = [
            r
            for t, r in runs.items()
            if t != "b24sync" and "wall_s" in r and not r["correct"] and "error" not in r
        ]
        for key, label in (("wall_s", "wall time"), ("cpu_s", "client CPU")):
            faster_but_wrong = "".join(
                f"; {r['tool']} {r[key]:.2f} s with a wrong result" for r in wrong if r[key] < ours[key]
            )
            if not peers:
                lines.append(
                    f"| {label} no slower than the fastest peer | {entry['title']} | "
                    f"no peer finished correctly{faster_but_wrong} | - |"
                )
                continue
            best = min(peers, key=lambda r: r[key])
            met = ours[key] <= best[key] and ours["correct"]
            verdict = "yes" if met else "**no**"
            if met and faster_but_wrong:
                verdict = "yes, among correct peers"
            lines.append(
                f"| {label} no slower than the fastest peer | {entry['title']} | "
                f"{ours[key]:.2f} s vs {best['tool']} {best[key]:.2f} s{faster_but_wrong} | {verdict} |"
            )
        if "bound_s" in entry:
            bound = entry["bound_s"]
            over = ours["wall_s"] / bound - 1 if bound else 0.0
            lines.append(
                f"| within 5% of the leaky-bucket bound | {entry['title']} | {ours['wall_s']:.2f} s vs "
                f"{bound:.2f} s ({over:+.1%}) | {'yes' if abs(over) <= 0.05 else '**no**'} |"
            )
            lines.append(
                f"| zero 503s | {entry['title']} | {ours['status_503']} | "
                f"{'yes' if ours['status_503'] == 0 else '**no**'} |"
            )
        if not ours["correct"]:
            lines.append(f"| correct result | {entry['title']} | {'; '.join(ours['problems'])} | **no** |")
    return lines


def _run(results: dict[str, Any], workload: str, tool: str) -> dict[str, Any] | None:
    entry = results["workloads"].get(workload)
    return None if entry is None else next((r for r in entry["runs"] if r["tool"] == tool), None)


def _findings(results: dict[str, Any]) -> list[str]:
    lines = ["## What the figures say", ""]
    chains, small = _run(results, "chains", "b24sync"), _run(results, "chains_small", "b24sync")
    peer_chains = [
        r
        for r in results["workloads"].get("chains", {}).get("runs", [])
        if r["tool"] != "b24sync" and "wall_s" in r
    ]
    if chains and peer_chains and "requests" in chains:
        count = results["workloads"]["chains"]["count"]
        fewest = min(r["requests"] for r in peer_chains)
        ratio = fewest / chains["requests"] if chains["requests"] else 0.0
        head = (
            "**Workload 2 misses the 3x request target.**"
            if ratio < 3
            else "**Workload 2 meets the 3x request target.**"
        )
        lines.append(
            f"- {head} b24sync sends {chains['requests']} requests, the minimum ceil({4 * count:,} / 50); a "
            f"peer that sends one dependency level at a time through its batch helper needs "
            f"ceil({count:,} / 50) = {math.ceil(count / 50)} requests per level, {fewest} in all "
            f"({ratio:.2f}x). Levels cost a peer extra round trips only when a level fills less than a "
            "batch: workload 2b (10 chains, 40 commands) takes b24sync "
            f"{small['requests'] if small else '?'} request against 4 for each peer. "
            "The planner places the steps level by level (ties keep file order, docs/architecture.md), so in workload 2 "
            "most links point to an earlier batch and are resolved by the executor; only in 2b do they all "
            "resolve inside the batch as `$result[...]`."
        )
    fb_chains = _run(results, "chains", "fast_bitrix24")
    if fb_chains and "wall_s" in fb_chains and not fb_chains["correct"]:
        lines.append(
            "- **fast_bitrix24 returns `call()` results out of order.** Its README says the results of "
            "`call()` come back in the order of the items, but `MultipleServerRequestHandlerPreserveIDs` "
            "merges the batches in the order they complete and `CallUserRequest.run` returns "
            "`tuple(raw_results.values())`; with concurrent batches, `results[i]` is often not item i. "
            "A user linking level by level as the README suggests gets contacts attached to the wrong "
            f"companies ({'; '.join(fb_chains['problems'])}). A wary user matches each result to its item "
            "by a field it echoes back (the title or name): that is the `fast_bitrix24-matched` row."
        )
    fb_limited = _run(results, "limited", "fast_bitrix24")
    if fb_limited and not fb_limited.get("correct"):
        lines.append(
            "- **fast_bitrix24 fails at the standard rate limit.** Up to 50 of its tasks wait on its leaky "
            "bucket at once and are all released together when the burst is spent, so the portal answers "
            f"503 ({fb_limited.get('status_503', '?')} times here); after 10 consecutive failures it raises "
            f"`RuntimeError: All attempts to get data from server exhausted` with part of the work done "
            f"({fb_limited.get('stored', '?')} of {results['workloads']['limited']['count']} contacts stored). "
            "(The emulator does not count refused requests against the bucket.)"
        )
    pysdk_limited = _run(results, "limited", "b24pysdk")
    if pysdk_limited and pysdk_limited.get("correct") and pysdk_limited.get("status_503"):
        lines.append(
            f"- **b24pysdk has no client-side rate limiter.** At the standard limit it received "
            f"{pysdk_limited['status_503']} 503s and sent {pysdk_limited['requests']} requests for "
            f"{results['workloads']['limited']['expected_requests']} batches; its retries (3 attempts, "
            "1 s and 2 s apart) happened to be enough here. b24sync paces itself and receives none."
        )
    if chains and "cpu_s" in chains and chains.get("plan_s") is not None:
        finished = [r for r in peer_chains if "error" not in r]
        slower = [
            (label, key, [r for r in finished if r[key] < chains[key]])
            for label, key in (("wall time", "wall_s"), ("client CPU", "cpu_s"))
        ]
        slower = [(label, key, rivals) for label, key, rivals in slower if rivals]
        if slower:
            against = "; ".join(
                f"{label} {chains[key]:.2f} s against "
                + ", ".join(
                    f"{r['tool']} {r[key]:.2f} s" + ("" if r["correct"] else " (with wrong links)")
                    for r in rivals
                )
                for label, key, rivals in slower
            )
            lines.append(
                f"- **b24sync loses on workload 2:** {against}. {chains['plan_s']:.2f} s of its CPU is planning "
                "the pipeline file (expanding four `for_each` steps, rendering the templates in the jinja2 "
                "sandbox, encoding each command, packing batches); the rest is the executor resolving links to "
                "earlier batches, re-encoding those commands, and building one validated `StepResult` per "
                "command for the run report (4,000 of them with a `crm.item.add` result each take about 24 ms, "
                "8 ms without the result: pydantic's `JsonValue` check walks every result). The profile above has no single hot spot: the largest entries are "
                "the TLS socket read and write (cProfile counts wall time, so these are waits for the "
                "emulator), pydantic validation, template rendering and query encoding. The peers take "
                "ready-made dicts and keep no report; the difference is within a few tens of milliseconds "
                "and changes sign between runs."
            )
    read = _run(results, "read", "b24sync")
    if read and "requests" in read and read["requests"] != results["workloads"]["read"]["expected_requests"]:
        lines.append(
            f"- **Reading sent {read['requests']} requests, not "
            f"{results['workloads']['read']['expected_requests']}.** `fetch_list_method` sends its first "
            "request with a single page, so that a list of up to 50 rows costs one command instead of a "
            "chain of 50; for lists of 51 to about 2,500 rows that first request is one more than "
            "ceil(pages / 50). At 20,000 rows the counts agree."
        )
    lines.append(
        "- **Where the time goes.** Without a rate limit every tool spends most of its wall time waiting "
        "for the emulator, which is the same server for all. b24sync sends its batches one after another; "
        "fast_bitrix24 sends up to 50 at once, which on the 2-core machine gains little since the emulator "
        "processes requests one at a time. The CPU columns are the client's own work: b24sync's pipeline "
        "run in workload 2 includes planning (template rendering and encoding of 4,000 commands) and the "
        "executor's bookkeeping for the run report, which the peers do not do."
    )
    lines.append(
        "- **The emulator needed one fix for this comparison:** its listen backlog was socketserver's "
        "default of 5, so a client opening many connections at once (fast_bitrix24) lost SYNs and "
        "waited 1-3 s for the kernel to resend them (5,000 adds: 9.4 s before, 0.65 s after). It is now "
        "511, like nginx's."
    )
    return lines


def render(results: dict[str, Any]) -> str:
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
        "- Versions: " + ", ".join(f"{t} {versions[t]}" for t in TOOLS),
        "",
        "Columns: HTTP requests the emulator received; wall and client CPU seconds of the workload; peak",
        "resident memory of the client process in MiB (growth during the workload in brackets); 503 answers",
        "received; records stored (read back: rows read for workload 3); whether the result is correct; and",
        "the ratios peer / b24sync for requests, wall time and CPU time (above 1 means b24sync is ahead).",
        "Workloads 1-3 run every tool several times in turn (see `repeat` in the JSON); a row shows the run",
        "of median wall time with the median CPU time, and is marked wrong if any repeat was wrong.",
        "",
    ]
    for entry in results["workloads"].values():
        title = f"### {entry['title']}: {entry['count']:,}"
        if "bound_s" in entry:
            title += (
                f" (leaky-bucket bound {entry['bound_s']:.1f} s for {entry['expected_requests']} requests)"
            )
        lines += [
            title,
            "",
            "| Tool | Requests | Wall s | CPU s | Peak MiB (+growth) | 503s | Stored | Correct | "
            "Req ratio | Wall ratio | CPU ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        runs = entry["runs"]
        ours = next((r for r in runs if r["tool"] == "b24sync" and "wall_s" in r), None)
        lines += [_run_row(run, ours) for run in runs]
        if ours is not None and ours.get("plan_s") is not None:
            lines += [
                "",
                f"b24sync's time includes planning the pipeline: {ours['plan_s']:.2f} s "
                f"({ours.get('batches')} batch{'es' if ours.get('batches') != 1 else ''}).",
            ]
        if entry.get("profile"):
            lines += [
                "",
                "A peer beat b24sync on wall or CPU time here (see the ratios below 1), so here is "
                "b24sync's profile on this workload (cProfile, sorted by own time, top entries; "
                "cProfile itself slows the run):",
                "",
                "```",
                entry["profile"].rstrip(),
                "```",
            ]
        lines.append("")
    lines += _targets(results)
    lines += ["", *_findings(results), "", HOW]
    return "\n".join(lines).replace("\n\n\n", "\n\n")
