"""Plan an upsert pipeline of N contacts against the emulator: requests spent reading the state.

    python -m tests.bench.bench_upsert [N] [--email]

Target (issue 7): reading the state of 10,000 records costs at most ceil(10000 / 2500) requests
(50 keys per crm.item.list command, 50 commands per request). With ``--email`` (issue 19) the
contacts are keyed by e-mail with fm e-mail and phone: the state costs ceil(N / 1000)
crm.duplicate.findbycomm requests (20 values a command) plus ceil(found / 2500) reads by @id.
Runs: a first plan against an empty portal (all creates), an apply, then a second plan (all
unchanged), timing each.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.pipeline import load_pipeline
from b24sync.planning.planner import plan
from b24sync.run.executor import execute
from b24sync.upsert.state import read_state

PIPELINE = """\
version: 1
name: bench-upsert
steps:
  - id: contact
    for_each: {file: contacts.csv}
    key: "{{ item.id }}"
    upsert:
      entity: contact
      match: {originatorId: bench, originId: "{{ item.id }}"}
      fields: {name: "{{ item.name }}", lastName: "{{ item.surname }}"}
"""
EMAIL_PIPELINE = """\
version: 1
name: bench-upsert-email
steps:
  - id: contact
    for_each: {file: contacts.csv}
    key: "{{ item.id }}"
    upsert:
      entity: contact
      match: {email: "{{ item.email }}"}
      fields:
        name: "{{ item.name }}"
        fm:
          - {typeId: EMAIL, value: "{{ item.email }}"}
          - {typeId: PHONE, value: "{{ item.phone }}"}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=10_000, help="contacts (default 10000)")
    parser.add_argument("--email", action="store_true", help="key the contacts by e-mail (issue 19)")
    args = parser.parse_args()
    count, by_email = args.count, args.email
    folder = Path(tempfile.mkdtemp())
    rows = "\n".join(f"{i},Name{i},Surname{i},P{i}@Example.com,+7 (900) {i:07d}" for i in range(count))
    (folder / "contacts.csv").write_text(f"id,name,surname,email,phone\n{rows}\n", encoding="utf-8")
    (folder / "sync.yaml").write_text(EMAIL_PIPELINE if by_email else PIPELINE, encoding="utf-8")
    emu = Emulator()
    client = B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)
    pipeline = load_pipeline(str(folder / "sync.yaml"))
    for label in ("empty portal", "after apply"):
        found = len(emu.store.items(3))
        bound = math.ceil(count / 1000) + math.ceil(found / 2500) if by_email else math.ceil(count / 2500)
        before = emu.stats()["requests"]
        commands_before = dict(emu.stats()["by_method"])
        started = time.perf_counter()
        state = read_state(pipeline, client)
        the_plan = plan(pipeline, state)
        elapsed = time.perf_counter() - started
        spent = emu.stats()["requests"] - before
        commands = {
            method: n - commands_before.get(method, 0)
            for method, n in emu.stats()["by_method"].items()
            if n != commands_before.get(method, 0)
        }
        creates = sum(c.action == "create" for c in the_plan.commands())
        unchanged = sum(u.action == "unchanged" for u in the_plan.unsent)
        print(
            f"{label}: read state of {count} instances in {spent} requests (target <= {bound}), "
            f"read + plan {elapsed:.2f} s; {creates} creates, {unchanged} unchanged; commands {commands}"
        )
        if label == "empty portal":
            execution = execute(the_plan, client, halt_on_error=False)
            assert all(s.status == "succeeded" for s in execution.steps)


if __name__ == "__main__":
    main()
