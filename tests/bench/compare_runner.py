"""One measured run of one tool on one workload, in its own process (driven by compare.py).

    python tests/bench/compare_runner.py TOOL WORKLOAD --url URL --count N --rate-limit off|standard
                                         [--pipeline FILE] [--operating LIMIT/WINDOW]

Prints one JSON object: wall and CPU seconds of the workload alone (imports, client construction and
building the inputs are done before the clock starts), the CPU seconds of the whole process until the
workload ended (``process_cpu_s``: interpreter start and imports included), the process's peak resident set size before
and after the workload (``VmHWM`` of /proc/self/status: the high-water mark of the whole process,
interpreter and imported libraries included), and what the tool handed back (ids created, rows read) so that
compare.py can check it against the emulator's store. Each tool is written the way its own
documentation shows; where it needs a setting for this benchmark, the setting is named here.
b24sync runs through ``b24sync.apply`` of a pipeline file, as a user runs it (the read workload,
which a pipeline has no step for, through the library; its rows say ``via: library``).

The emulator serves https with a self-signed certificate because b24pysdk builds ``https://`` URLs
itself; ``REQUESTS_CA_BUNDLE`` (set by compare.py) makes every ``requests``-based client trust it,
and fast_bitrix24 takes its documented ``ssl=False``.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import pstats
import resource
import time
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

UNLIMITED_RPS = 10_000.0  # fast_bitrix24's own leaky bucket, opened up when the emulator has no limit


def contact_fields(i: int) -> dict[str, Any]:
    return {"name": f"Contact {i}", "lastName": "Bench", "originatorId": "bench", "originId": str(i)}


def ids_digest(ids: list[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()


def rss_kib() -> int:
    """The peak resident set size of this process so far, in KiB.

    Linux's VmHWM belongs to the address space made at exec, whereas ru_maxrss carries over the
    parent's peak through fork: compare.py grows while seeding 20,000 records and every later child
    would report the parent's figure.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


# -- b24sync ----------------------------------------------------------------------------------

ADDS_PIPELINE = """\
version: 1
name: bench-adds
steps:
  - id: contact
    for_each: {{file: adds.json}}
    key: "c{{{{ item.originId }}}}"
    method: crm.item.add{mode}
    params:
      entityTypeId: 3
      fields:
        name: "{{{{ item.name }}}}"
        lastName: "{{{{ item.lastName }}}}"
        originatorId: "{{{{ item.originatorId }}}}"
        originId: "{{{{ item.originId }}}}"
"""


def kind(workload: str) -> str:
    """What a workload does, whatever portal it runs on: adds, chains or read."""
    if "chains" in workload:
        return "chains"
    return "read" if workload == "read" else "adds"


def b24sync_tool(
    url: str,
    workload: str,
    count: int,
    rate_limit: str,
    pipeline: str | None,
    operating: tuple[float, float] | None = None,
    parallel: int = 0,
) -> Callable[[], dict[str, Any]]:
    """b24sync through ``b24sync.apply`` of a pipeline file (the read workload: the library)."""
    import tempfile
    from pathlib import Path

    import b24sync
    from b24sync.client import B24Hook

    # ``import b24sync`` loads its names on first use; the peers' imports load the whole package, so
    # the function the workload calls is imported here too, before the clock (its CPU is in
    # ``process_cpu_s`` with everyone's imports)
    b24sync.apply  # noqa: B018

    limits = {"operating_limit": operating[0], "operating_window": operating[1]} if operating else {}
    hook = B24Hook.from_webhook_url(url, rate_limit=rate_limit, **limits)
    folder = Path(tempfile.mkdtemp(prefix="b24sync-bench-"))
    if kind(workload) == "adds":
        mode = "\n    mode: import" if workload.endswith("import") else ""
        (folder / "adds.json").write_text(json.dumps([contact_fields(i) for i in range(count)]))
        (folder / "adds.yaml").write_text(ADDS_PIPELINE.format(mode=mode))
        pipeline = str(folder / "adds.yaml")
    if kind(workload) in ("adds", "chains"):
        assert pipeline is not None
        source = pipeline

        def applied() -> dict[str, Any]:
            # what `b24sync apply FILE --report report.json` does, the field check left out (it
            # would add its two requests to every workload's count)
            run = b24sync.apply(
                source, hook, report=folder / "report.json", contract=False, parallel=parallel
            )
            steps = run.report.steps
            bad = [s for s in steps if s.status != "succeeded"]
            created = [
                int(s.created_id) for s in steps if s.status == "succeeded" and s.created_id is not None
            ]
            return {
                "via": "apply",
                "created": created if kind(workload) == "adds" else len(steps) - len(bad),
                "errors": len(bad),
                "first_error": f"{bad[0].command_key}: {bad[0].error_code} {bad[0].error_description}"
                if bad
                else None,
            }

        return applied

    def read() -> dict[str, Any]:
        result = hook.call_fast_list_method("crm.contact.list", {"select": ["ID", "NAME", "LAST_NAME"]})
        return {"via": "library", "rows": result.data, "errors": len(result.errors)}

    return read


# -- fast_bitrix24 -----------------------------------------------------------------------------


def fast_bitrix24_tool(
    url: str, workload: str, count: int, rate_limit: str, pipeline: str | None, matched: bool = False
) -> Callable[[], dict[str, Any]]:
    from fast_bitrix24 import Bitrix

    # verbose=False: no tqdm progress bar (b24sync's library shows none either); ssl=False is the
    # README's answer to a certificate it cannot verify.
    options: dict[str, Any] = {"verbose": False, "ssl": False}
    if rate_limit == "off":
        options["requests_per_second"] = UNLIMITED_RPS
    bx = Bitrix(url, **options)
    workload = kind(workload)
    if workload == "adds":
        items = [{"entityTypeId": 3, "fields": contact_fields(i)} for i in range(count)]

        def adds() -> dict[str, Any]:
            results = bx.call("crm.item.add", items)
            return {"created": [row["id"] for row in results], "errors": 0}

        return adds
    if workload == "chains" and matched:

        def matched_chains() -> dict[str, Any]:
            # one level at a time, each result matched to its item by the name it echoes back
            companies = {
                row["title"]: row["id"]
                for row in bx.call(
                    "crm.item.add",
                    [{"entityTypeId": 4, "fields": {"title": f"Company {i}"}} for i in range(count)],
                )
            }
            contacts = {
                row["name"]: row["id"]
                for row in bx.call(
                    "crm.item.add",
                    [
                        {
                            "entityTypeId": 3,
                            "fields": {"name": f"Contact {i}", "companyId": companies[f"Company {i}"]},
                        }
                        for i in range(count)
                    ],
                )
            }
            deals = {
                row["title"]: row["id"]
                for row in bx.call(
                    "crm.item.add",
                    [
                        {
                            "entityTypeId": 2,
                            "fields": {"title": f"Deal {i}", "contactId": contacts[f"Contact {i}"]},
                        }
                        for i in range(count)
                    ],
                )
            }
            tasks = bx.call(
                "tasks.task.add",
                [
                    {
                        "fields": {
                            "TITLE": f"Task {i}",
                            "RESPONSIBLE_ID": 1,
                            "UF_CRM_TASK": [f"D_{deals[f'Deal {i}']}"],
                        }
                    }
                    for i in range(count)
                ],
            )
            return {"created": len(companies) + len(contacts) + len(deals) + len(tasks), "errors": 0}

        return matched_chains
    if workload == "chains":

        def chains() -> dict[str, Any]:
            # one dependency level at a time; the README promises results in the order of the items
            companies = bx.call(
                "crm.item.add",
                [{"entityTypeId": 4, "fields": {"title": f"Company {i}"}} for i in range(count)],
            )
            contacts = bx.call(
                "crm.item.add",
                [
                    {"entityTypeId": 3, "fields": {"name": f"Contact {i}", "companyId": companies[i]["id"]}}
                    for i in range(count)
                ],
            )
            deals = bx.call(
                "crm.item.add",
                [
                    {"entityTypeId": 2, "fields": {"title": f"Deal {i}", "contactId": contacts[i]["id"]}}
                    for i in range(count)
                ],
            )
            tasks = bx.call(
                "tasks.task.add",
                [
                    {
                        "fields": {
                            "TITLE": f"Task {i}",
                            "RESPONSIBLE_ID": 1,
                            "UF_CRM_TASK": [f"D_{deals[i]['id']}"],
                        }
                    }
                    for i in range(count)
                ],
            )
            return {"created": len(companies) + len(contacts) + len(deals) + len(tasks), "errors": 0}

        return chains

    def read() -> dict[str, Any]:
        return {"rows": bx.get_all("crm.contact.list", {"select": ["ID", "NAME", "LAST_NAME"]}), "errors": 0}

    return read


# -- b24pysdk ----------------------------------------------------------------------------------


def b24pysdk_tool(
    url: str, workload: str, count: int, rate_limit: str, pipeline: str | None
) -> Callable[[], dict[str, Any]]:
    from b24pysdk import BitrixWebhook, Client

    parts = urlsplit(url)
    user, code = parts.path.strip("/").split("/")[1:3]
    client = Client(BitrixWebhook(domain=parts.netloc, webhook_token=f"{user}/{code}"))
    workload = kind(workload)
    if workload == "adds":
        fields = [contact_fields(i) for i in range(count)]

        def adds() -> dict[str, Any]:
            # the lazy request objects are the SDK's own work, so they are made inside the clock
            requests = [client.crm.item.add(entity_type_id=3, fields=f) for f in fields]
            batch = client.call_batches(requests).result
            return {
                "created": [row["item"]["id"] for row in batch.result.values()],
                "errors": len(batch.result_error),
            }

        return adds
    if workload == "chains":

        def level(requests: dict[str, Any]) -> dict[str, Any]:
            batch = client.call_batches(requests).result
            if batch.result_error:
                raise RuntimeError(
                    f"{len(batch.result_error)} commands failed: {next(iter(batch.result_error.values()))}"
                )
            return dict(batch.result)

        def chains() -> dict[str, Any]:
            # one dependency level at a time, results matched to inputs by the mapping's keys
            companies = level(
                {
                    f"c{i}": client.crm.item.add(entity_type_id=4, fields={"title": f"Company {i}"})
                    for i in range(count)
                }
            )
            contacts = level(
                {
                    f"c{i}": client.crm.item.add(
                        entity_type_id=3,
                        fields={"name": f"Contact {i}", "companyId": companies[f"c{i}"]["item"]["id"]},
                    )
                    for i in range(count)
                }
            )
            deals = level(
                {
                    f"c{i}": client.crm.item.add(
                        entity_type_id=2,
                        fields={"title": f"Deal {i}", "contactId": contacts[f"c{i}"]["item"]["id"]},
                    )
                    for i in range(count)
                }
            )
            tasks = level(
                {
                    f"c{i}": client.tasks.task.add(
                        fields={
                            "TITLE": f"Task {i}",
                            "RESPONSIBLE_ID": 1,
                            "UF_CRM_TASK": [f"D_{deals[f'c{i}']['item']['id']}"],
                        }
                    )
                    for i in range(count)
                }
            )
            return {"created": len(companies) + len(contacts) + len(deals) + len(tasks), "errors": 0}

        return chains

    def read() -> dict[str, Any]:
        request = client.crm.contact.list(select=["ID", "NAME", "LAST_NAME"]).as_list_fast()
        return {"rows": list(request.result), "errors": 0}

    return read


# -- a hand-written script -----------------------------------------------------------------------


def script_tool(
    url: str, workload: str, count: int, rate_limit: str, pipeline: str | None
) -> Callable[[], dict[str, Any]]:
    """What a user writes by hand with requests alone: the same batches b24sync sends, 50 commands
    a request, a chain's later commands linked to its first by ``$result[...]`` in the same batch
    (12 whole chains a batch), no retries, no report. The floor the framework's CPU is held to."""
    from urllib.parse import quote

    import requests

    session = requests.Session()
    endpoint = url.rstrip("/") + "/batch.json"

    def query(params: Any, prefix: str = "") -> list[str]:
        # PHP's http_build_query, as the portal reads a batch command's query string
        if isinstance(params, dict):
            pairs: list[str] = []
            for key, value in params.items():
                pairs += query(value, f"{prefix}[{key}]" if prefix else str(key))
            return pairs
        if isinstance(params, list):
            return [pair for n, value in enumerate(params) for pair in query(value, f"{prefix}[{n}]")]
        return [f"{quote(prefix)}={quote(str(params))}"]

    def batch(commands: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        body = {
            f"cmd[{key}]": f"{method}?{'&'.join(query(params))}" for key, (method, params) in commands.items()
        }
        answer = session.post(endpoint, data={"halt": 0, **body}, timeout=60).json()["result"]
        if answer["result_error"]:
            raise RuntimeError(f"{len(answer['result_error'])} commands failed")
        return answer["result"]  # type: ignore[no-any-return]

    if kind(workload) == "adds":

        def adds() -> dict[str, Any]:
            created = []
            for start in range(0, count, 50):
                commands = {
                    f"c{i}": ("crm.item.add", {"entityTypeId": 3, "fields": contact_fields(i)})
                    for i in range(start, min(start + 50, count))
                }
                created += [row["item"]["id"] for row in batch(commands).values()]
            return {"created": created, "errors": 0}

        return adds

    def chains() -> dict[str, Any]:
        done = 0
        for start in range(0, count, 12):
            commands: dict[str, tuple[str, dict[str, Any]]] = {}
            for i in range(start, min(start + 12, count)):
                commands[f"co{i}"] = (
                    "crm.item.add",
                    {"entityTypeId": 4, "fields": {"title": f"Company {i}"}},
                )
                company = f"$result[co{i}][item][id]"
                commands[f"ct{i}"] = (
                    "crm.item.add",
                    {"entityTypeId": 3, "fields": {"name": f"Contact {i}", "companyId": company}},
                )
                contact = f"$result[ct{i}][item][id]"
                commands[f"d{i}"] = (
                    "crm.item.add",
                    {"entityTypeId": 2, "fields": {"title": f"Deal {i}", "contactId": contact}},
                )
                deal = f"D_$result[d{i}][item][id]"
                commands[f"t{i}"] = (
                    "tasks.task.add",
                    {"fields": {"TITLE": f"Task {i}", "RESPONSIBLE_ID": 1, "UF_CRM_TASK": [deal]}},
                )
            done += len(batch(commands))
        return {"created": done, "errors": 0}

    return chains


def fast_bitrix24_matched_tool(
    url: str, workload: str, count: int, rate_limit: str, pipeline: str | None
) -> Callable[[], dict[str, Any]]:
    return fast_bitrix24_tool(url, workload, count, rate_limit, pipeline, matched=True)


Tool = Callable[[str, str, int, str, "str | None"], Callable[[], dict[str, Any]]]
TOOLS: dict[str, Tool] = {
    "b24sync": b24sync_tool,
    "fast_bitrix24": fast_bitrix24_tool,
    "fast_bitrix24-matched": fast_bitrix24_matched_tool,
    "b24pysdk": b24pysdk_tool,
    "script": script_tool,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("workload")
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate-limit", default="off")
    parser.add_argument("--pipeline")
    parser.add_argument("--profile", action="store_true", help="run under cProfile, add its top entries")
    parser.add_argument(
        "--operating",
        help="LIMIT/WINDOW seconds of the portal's operating budget, for b24sync's client to pace to",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=0,
        help="b24sync: apply --parallel N (default 0: measured, as `b24sync apply` without the option)",
    )
    args = parser.parse_args()
    out: dict[str, Any] = {"tool": args.tool, "workload": args.workload}
    try:
        if args.tool == "b24sync":
            limit, _, window = (args.operating or "").partition("/")
            operating = (float(limit), float(window)) if args.operating else None
            run = b24sync_tool(
                args.url, args.workload, args.count, args.rate_limit, args.pipeline, operating, args.parallel
            )
        else:
            run = TOOLS[args.tool](args.url, args.workload, args.count, args.rate_limit, args.pipeline)
    except Exception as error:  # a peer that cannot even be set up is reported, not dropped
        out["error"] = f"setup: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        print(json.dumps(out))
        return
    out["rss_before_kib"] = rss_kib()
    # the portal's unix time the workload starts at: where in an operating basket it falls decides
    # how soon its first budget comes back (compare.physical_bound)
    out["started_unix"] = time.time()
    cpu, wall = time.process_time(), time.perf_counter()
    profiler = cProfile.Profile() if args.profile else None
    try:
        produced = profiler.runcall(run) if profiler is not None else run()
    except Exception as error:
        produced = {}
        out["error"] = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:300]}"
        out["traceback"] = traceback.format_exc()[-2000:]
    out["wall_s"] = time.perf_counter() - wall
    out["cpu_s"] = time.process_time() - cpu
    out["rss_peak_kib"] = rss_kib()
    # the whole process until the workload ended: interpreter start, imports, inputs, workload
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["process_cpu_s"] = usage.ru_utime + usage.ru_stime
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        out["profile"] = text.getvalue()[text.getvalue().find("ncalls") :]
    # the emulator's webhook code is no real secret, but nothing the project writes shows one
    code = urlsplit(args.url).path.strip("/").split("/")[2]
    for key in ("error", "traceback"):
        if key in out:
            out[key] = out[key].replace(code, "***")
    rows = produced.pop("rows", None)
    if rows is not None:
        ids = [int(row["ID"]) for row in rows]
        produced.update(rows=len(ids), distinct=len(set(ids)), digest=ids_digest(ids))
    created = produced.get("created")
    if isinstance(created, list):
        produced.update(created=len(created), distinct=len(set(created)))
    out.update(produced)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
