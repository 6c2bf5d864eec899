"""Measure the emulator's method handlers on a 20,000-record portal (run by hand, not by pytest).

    PYTHONPATH=. python tests/bench/bench_emulator_methods.py [COUNT]

Prints the time to add COUNT contacts and to read them all back page by page in the three ways a
client does: a keyset walk with start=-1, offset pages with a count (old and new methods), and
offset pages under a substring filter.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from b24sync.emulator.methods import registry
from b24sync.emulator.methods.base import Context
from b24sync.emulator.store import Store


def main(count: int) -> None:
    """Fill a store, then time each way of listing it."""
    store = Store()
    handlers = registry()
    ctx = Context(store=store, user_id=1, now=time.time)

    def call(method: str, params: dict[str, Any]) -> Any:
        return handlers[method](ctx, params)

    started = time.perf_counter()
    for index in range(count):
        call(
            "crm.contact.add",
            {
                "fields": {
                    "NAME": f"Name{index}",
                    "LAST_NAME": "Test",
                    "PHONE": [{"VALUE": f"+7900{index:07d}"}],
                    "ORIGIN_ID": str(index),
                }
            },
        )
    report("add", count, started)

    started, last, seen = time.perf_counter(), 0, 0
    while True:
        page = call(
            "crm.item.list",
            {
                "entityTypeId": "3",
                "order": {"id": "ASC"},
                "filter": {">id": str(last)},
                "select": ["id", "name"],
                "start": "-1",
            },
        ).result["items"]
        seen += len(page)
        if len(page) < 50:
            break
        last = page[-1]["id"]
    report("crm.item.list keyset start=-1", seen, started)

    for method, params in (
        ("crm.contact.list", {"order": {"ID": "ASC"}, "select": ["ID", "NAME"]}),
        ("crm.item.list", {"entityTypeId": 3, "select": ["id", "name"]}),
    ):
        started, start, seen = time.perf_counter(), 0, 0
        while True:
            reply = call(method, {**params, "start": start})
            rows = reply.result if isinstance(reply.result, list) else reply.result["items"]
            seen += len(rows)
            if reply.next is None:
                break
            start = reply.next
        report(f"{method} offset pages", seen, started)

    started, start, seen = time.perf_counter(), 0, 0
    while start is not None and start < 2000:
        reply = call("crm.contact.list", {"filter": {"%NAME": "Name1"}, "select": ["ID"], "start": start})
        seen += len(reply.result)
        start = reply.next
    report("crm.contact.list %NAME first 40 pages", seen, started)


def report(what: str, rows: int, started: float) -> None:
    """One line: what, how many rows, how long."""
    elapsed = time.perf_counter() - started
    print(f"{what:42} {rows:7d} rows {elapsed:7.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "count", nargs="?", type=int, default=20_000, help="contacts to store (default 20000)"
    )
    main(parser.parse_args().count)
