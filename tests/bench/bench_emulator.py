"""The emulator's speed: over loopback HTTP, at scale, and under the cloud cost model.

Run by hand from the repository root:
    python tests/bench/bench_emulator.py [--batches 200] [--real]
    python tests/bench/bench_emulator.py --scale [--sizes 1000,100000,1000000] [--batches 20]
    python tests/bench/bench_emulator.py --concurrency [--clients 1,2,4,8,10,16] [--time-scale 0.1]

Default: batched commands per second over loopback HTTP (target: >= 5,000/s); --real uses the
emulator's own method handlers (crm.item.add/get), else small fake handlers, so that the figure
measures the transport, parsing, references and batch machinery.

--scale: commands per second of CPU time (in-process, no socket) for each kind of command a sync
sends, against a store pre-filled with each size of contacts, and the process's peak RSS. The
cost of a command must not grow with the store (issue 16: the same figure at 1k, 100k and 1M).

--concurrency: the cloud profile (every figure times --time-scale, so that a run takes seconds)
over loopback HTTP; N clients at once, each sending batches of 50 adds one after another. The
throughput should grow about N times up to the portal's worker bound (10), then stay flat.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from b24sync.emulator import Emulator
from b24sync.emulator.costs import CLOUD, CostModel
from b24sync.emulator.methods import crm_records
from b24sync.emulator.request import HttpRequest
from b24sync.emulator.tables import Record


def fake_batch(index: int) -> dict[str, Any]:
    cmd: dict[str, str] = {}
    for n in range(25):
        cmd[f"a{n}"] = f"fake.add?fields%5BTITLE%5D=Item+{index}-{n}&fields%5BTAGS%5D%5B0%5D=x"
        cmd[f"g{n}"] = f"fake.get?id=%24result%5Ba{n}%5D"
    return {"halt": 1, "cmd": cmd}


def real_batch(index: int) -> dict[str, Any]:
    cmd: dict[str, str] = {}
    for n in range(25):
        cmd[f"a{n}"] = f"crm.item.add?entityTypeId=3&fields%5Bname%5D=Ann+{index}-{n}"
        cmd[f"g{n}"] = f"crm.item.get?entityTypeId=3&id=%24result%5Ba{n}%5D%5Bitem%5D%5Bid%5D"
    return {"halt": 1, "cmd": cmd}


# --- --scale ---------------------------------------------------------------------------------


def fill(emulator: Emulator, count: int) -> None:
    """Store ``count`` contacts straight into the store: one made by the real code, then copies."""
    store = emulator.store
    changes = crm_records.changes_of(3, {"name": "Contact", "originatorId": "bench", "originId": "0"}, [])
    template = dict(crm_records.create(store, 3, changes, 1, time.time()))
    table = store.crm[3]
    for record_id in range(2, count + 1):
        table[record_id] = Record(
            template, id=record_id, title=f"Contact #{record_id}", originId=str(record_id)
        )
    store.sequences["crm:3"] = count


def scale_batches(kind: str, size: int, batch: int) -> dict[str, Any]:
    """One batch of 50 commands of ``kind`` against a store of ``size`` contacts."""
    cmd: dict[str, str] = {}
    for n in range(50):
        i = (batch * 50 + n) * 7919 % size + 1  # spread over the whole table
        if kind == "crm.item.add":
            cmd[f"c{n}"] = f"crm.item.add?entityTypeId=3&fields[name]=New+{i}&fields[originId]=n{batch}-{n}"
        elif kind == "crm.item.get":
            cmd[f"c{n}"] = f"crm.item.get?entityTypeId=3&id={i}"
        elif kind == "crm.item.update":
            cmd[f"c{n}"] = f"crm.item.update?entityTypeId=3&id={i}&fields[lastName]=L{batch}"
        elif kind == "list @originId (upsert read)":
            keys = "".join(f"&filter[@originId][{k}]={(i + k * 13) % size + 1}" for k in range(50))
            cmd[f"c{n}"] = (
                f"crm.item.list?entityTypeId=3&filter[=originatorId]=bench{keys}"
                "&select[0]=id&select[1]=originId&order[id]=ASC&start=0"
            )
        elif kind == "list >id start=-1 (keyset)":
            cmd[f"c{n}"] = f"crm.item.list?entityTypeId=3&filter[>id]={i}&order[id]=ASC&select[0]=id&start=-1"
        elif kind == "list >id start=0 (count)":
            cmd[f"c{n}"] = f"crm.item.list?entityTypeId=3&filter[>id]={i}&order[id]=ASC&select[0]=id&start=0"
        elif kind == "crm.contact.list ORIGIN_ID":
            cmd[f"c{n}"] = f"crm.contact.list?filter[ORIGIN_ID]={i}&select[0]=ID"
        else:
            raise ValueError(kind)
    return {"halt": 0, "cmd": cmd}


SCALE_KINDS = (
    "crm.item.add",
    "crm.item.get",
    "crm.item.update",
    "list @originId (upsert read)",
    "list >id start=-1 (keyset)",
    "list >id start=0 (count)",
    "crm.contact.list ORIGIN_ID",
)


def measure(emulator: Emulator, make: Callable[[int], dict[str, Any]], batches: int) -> float:
    """Commands per CPU second of ``batches`` batch requests handled in-process."""
    bodies = [json.dumps(make(index)).encode() for index in range(batches)]
    target = f"/rest/{emulator.user_id}/{emulator.token}/batch"
    headers = {"Content-Type": "application/json"}
    emulator.handle(HttpRequest("POST", target, headers, bodies[0]))  # builds any index first
    started = time.process_time()
    for body in bodies:
        answer = emulator.handle(HttpRequest("POST", target, headers, body))
        errors = answer.json()["result"]["result_error"]
        if answer.status != 200 or errors:
            raise SystemExit(f"unexpected answer {answer.status}: {str(errors)[:300]}")
    return batches * 50 / max(time.process_time() - started, 1e-9)


def scale(sizes: list[int], batches: int) -> None:
    """Print commands/s per kind and size, and the peak RSS after filling the largest store."""
    rates: dict[str, list[float]] = {kind: [] for kind in SCALE_KINDS}
    for size in sizes:
        emulator = Emulator(operating_limit=None)
        started = time.perf_counter()
        fill(emulator, size)
        filled = time.perf_counter() - started
        for kind in SCALE_KINDS:
            rates[kind].append(measure(emulator, functools.partial(scale_batches, kind, size), batches))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"store of {size:,} contacts: filled in {filled:.1f} s, peak RSS so far {peak:,.0f} MiB")
        del emulator
    header = "".join(f"{size:>14,}" for size in sizes)
    print(f"\ncommands per CPU second, by stored records ({batches} batches of 50 each)")
    print(f"{'command':34}{header}")
    for kind, values in rates.items():
        print(f"{kind:34}" + "".join(f"{value:>14,.0f}" for value in values))


# --- --concurrency ---------------------------------------------------------------------------


def scaled_cloud(factor: float) -> CostModel:
    """The cloud profile with every time multiplied by ``factor`` (the worker bound kept)."""
    costs = {name: seconds * factor for name, seconds in CLOUD.seconds.items()}
    model = CLOUD.with_costs({**costs, "request": CLOUD.request * factor, "count": CLOUD.count * factor})
    return CostModel(
        model.name, model.seconds, model.request, model.count, CLOUD.latency * factor, CLOUD.workers
    )


def add_batches(url: str, index: int, batches: int, failures: list[str]) -> None:
    """One client: ``batches`` batches of 50 adds, one after another."""
    with requests.Session() as session:
        for number in range(batches):
            cmd = {
                f"c{n}": f"crm.item.add?entityTypeId=3&fields[name]=C{index}-{number}-{n}" for n in range(50)
            }
            answer = session.post(url + "batch", json={"halt": 0, "cmd": cmd})
            if answer.status_code != 200 or answer.json()["result"]["result_error"]:
                failures.append(answer.text[:200])


def concurrency(clients: list[int], factor: float, batches: int) -> None:
    """Print commands/s for each number of concurrent clients, and the speed-up over one client."""
    import threading

    model = scaled_cloud(factor)
    print(
        f"cloud profile x {factor}: {model.workers} workers, a batch of 50 adds takes "
        f"{model.request + 50 * model.seconds['add']:.2f} s of server time"
    )
    print(f"{'clients':>8} {'commands/s':>12} {'speed-up':>9} {'ideal':>6}")
    single = 0.0
    for count in clients:
        emulator = Emulator(profile=model, operating_limit=None)
        with emulator.serve() as url:
            failures: list[str] = []

            threads = [
                threading.Thread(target=add_batches, args=(url, index, batches, failures))
                for index in range(count)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        if failures:
            raise SystemExit(f"unexpected answers: {failures[:3]}")
        rate = count * batches * 50 / elapsed
        single = single or rate / count
        ideal = min(count, model.workers or count)
        print(f"{count:>8} {rate:>12,.0f} {rate / single:>8.1f}x {ideal:>5}x")


# --- transport (default) -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--real", action="store_true", help="use the real method handlers")
    parser.add_argument("--scale", action="store_true", help="commands/s at each store size")
    parser.add_argument("--sizes", default="1000,100000,1000000", help="store sizes for --scale")
    parser.add_argument("--concurrency", action="store_true", help="throughput by concurrent clients")
    parser.add_argument("--clients", default="1,2,4,8,10,16", help="client counts for --concurrency")
    parser.add_argument("--time-scale", type=float, default=0.1, help="cloud figures times this")
    options = parser.parse_args()
    if options.concurrency:
        concurrency([int(n) for n in options.clients.split(",")], options.time_scale, 3)
        return
    if options.scale:
        scale([int(size) for size in options.sizes.split(",")], min(options.batches, 20))
        return
    if options.real:
        emulator = Emulator(operating_limit=None)
        make = real_batch
    else:
        from tests.helpers.emulator_fakes import METHODS, FakeStore

        emulator = Emulator(operating_limit=None, methods=METHODS, store_factory=FakeStore)
        make = fake_batch
    payloads = [make(index) for index in range(options.batches)]
    with emulator.serve() as url, requests.Session() as session:
        session.post(url + "batch", json=make(-1)).raise_for_status()
        started = time.perf_counter()
        for payload in payloads:
            answer = session.post(url + "batch", json=payload)
            answer.raise_for_status()
            if answer.json()["result"]["result_error"]:
                raise SystemExit(f"unexpected errors: {answer.json()['result']['result_error']}")
        elapsed = time.perf_counter() - started
    commands = options.batches * 50
    print(
        f"{'real' if options.real else 'fake'} handlers: {commands} commands in {options.batches} "
        f"batches over loopback: {elapsed:.2f} s, {commands / elapsed:,.0f} commands/s, "
        f"{options.batches / elapsed:,.1f} requests/s"
    )


if __name__ == "__main__":
    main()
