"""Links into the bare list a step returns (``steps.user[0].ID``), applied on the emulator.

A write never lets the portal fill such a link (the list may be empty, and the portal would pass the
whole list on, protocol §4.3 rules 2 and 6): b24sync fills it from the stored result in a later batch,
or fails the command without sending it. A read may take it from the portal inside the batch; the
emulator substitutes the fallback as the portal does, and the executor marks that read failed.
"""

from __future__ import annotations

from pathlib import Path

import requests

import b24sync
from b24sync.client import B24Hook
from b24sync.emulator import Emulator

PIPELINE = """version: 1
name: by-email
vars: {email: anna@example.com}
defaults: {halt_on_error: false}
steps:
  - id: user
    method: user.get
    params: {FILTER: {EMAIL: "{{ vars.email }}"}}
  - id: deal
    method: crm.item.add
    params: {entityTypeId: 2, fields: {title: Deal, assignedById: "{{ steps.user[0].ID }}"}}
  - id: same
    method: user.get
    params: {FILTER: {ID: "{{ steps.user[0].ID }}"}}
"""


def run(tmp_path: Path, email: str) -> tuple[b24sync.Applied, Emulator]:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    emulator = Emulator()
    return b24sync.apply(str(path), emulator, variables={"email": email}), emulator


def deals(emulator: Emulator) -> list[dict[str, object]]:
    hook = B24Hook(emulator.webhook_url, session=emulator.mount(requests.Session()), rate_limit=None)
    rows: list[dict[str, object]] = hook.call_method("crm.item.list", {"entityTypeId": 2}).get_data()["items"]
    return rows


def test_a_write_takes_the_first_element_from_b24sync_in_a_later_batch(tmp_path: Path) -> None:
    applied, emulator = run(tmp_path, "anna@example.com")
    batches = [[c.key for c in batch.commands] for batch in applied.plan.batches]
    assert batches == [["user", "same"], ["deal"]]
    (link,) = applied.plan.batches[1].commands[0].links
    assert (link.path, link.resolution) == ((0, "ID"), "client")
    assert applied.status == "succeeded"
    [deal] = deals(emulator)
    assert deal["assignedById"] == 2


def test_an_empty_list_fails_the_write_and_sends_nothing(tmp_path: Path) -> None:
    applied, emulator = run(tmp_path, "nobody@example.com")
    outcome = {step.command_key: (step.status, step.error_code) for step in applied.report.steps}
    assert outcome["deal"] == ("failed", "LINK_MISSING")
    # the read ran with the portal's fallback (the whole empty list) and is not trusted
    assert outcome["same"] == ("failed", "LINK_UNRESOLVED")
    assert deals(emulator) == []
