"""Batched commands per second through the emulator over loopback HTTP (target: >= 5,000/s).

Run by hand from the repository root:
    python tests/bench/bench_emulator.py [--batches 200] [--real]
--real uses the emulator's own method handlers (crm.item.add/get); the default uses small fake
handlers, so that the figure measures the transport, parsing, references and batch machinery.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from b24sync.emulator import Emulator


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--real", action="store_true", help="use the real method handlers")
    options = parser.parse_args()
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
