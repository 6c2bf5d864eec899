"""Windows of batches: running a plan window by window, keeping only linked values, sends the same."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from b24sync.planning.model import Batch, Plan
from b24sync.planning.planner import plan_file
from b24sync.planning.windows import Stored, cut_windows
from b24sync.run.links import follow, substitute

CONTACTS = 120


def linked_plan(folder: Path) -> Plan:
    rows = "".join(f"{i},Person {i}\n" for i in range(CONTACTS))
    (folder / "rows.csv").write_text("id,name\n" + rows, encoding="utf-8")
    (folder / "p.yaml").write_text(
        """\
version: 1
name: windows
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields: {name: "{{ item.name }}", companyId: "{{ steps.company.item.id }}"}
  - id: deal
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 2
      fields:
        title: "Deal of {{ steps.contact[item.id].item.title }}"
        contactId: "{{ steps.contact[item.id].item.id }}"
        companyId: "{{ steps.company.item.id }}"
""",
        encoding="utf-8",
    )
    return plan_file(str(folder / "p.yaml"))


def portal_answer(key: str, params: Any) -> Any:
    """What a fake portal returns for a command: a deterministic function of what was sent."""
    fields = params["fields"]
    return {"item": {"id": 1000 + len(key) * 7 + sum(map(ord, key)), "title": f"{fields.get('name', key)}!"}}


def run(batches: list[Batch], windows: list[tuple[tuple[Batch, ...], frozenset[Stored]]]) -> list[Any]:
    """Send window by window; between windows only the ``keep`` values survive. The requests sent."""
    sent: list[Any] = []
    kept: dict[Stored, Any] = {}
    for window_batches, keep in windows:
        results: dict[str, Any] = {}
        for batch in window_batches:
            request = []
            for command in batch.commands:
                values = {}
                for link in command.links:
                    if link.resolution != "client":
                        continue
                    if link.target in results:
                        values[link.marker] = follow(results[link.target], link.path)
                    else:
                        values[link.marker] = kept[(link.target, link.path)]  # KeyError: not kept
                params = substitute(command.params, values)
                request.append((command.key, params))
            for key, params in request:
                # the portal resolves the server links of its own batch
                resolved = substitute(
                    params,
                    {
                        link.marker: follow(results[link.target], link.path)
                        for command in batch.commands
                        if command.key == key
                        for link in command.links
                        if link.resolution == "server"
                    },
                )
                results[key] = portal_answer(key, resolved)
            sent.append(request)
        everything: dict[Stored, Any] = {**kept, **{(k, ()): r for k, r in results.items()}}
        kept = {
            stored: kept[stored] if stored in kept else follow(everything[(stored[0], ())], stored[1])
            for stored in keep
        }
    return sent


def test_two_windows_send_exactly_the_requests_of_one(tmp_path: Path) -> None:
    plan = linked_plan(tmp_path)
    batches = list(plan.batches)
    commands = sum(len(batch.commands) for batch in batches)
    assert len(batches) == math.ceil(commands / 50)  # one company, 120 contacts, 120 deals
    windows = cut_windows(batches, 100)
    assert len(windows) >= 2
    assert [batch for window in windows for batch in window.batches] == batches
    whole = run(batches, [(tuple(batches), frozenset())])
    windowed = run(batches, [(window.batches, window.keep) for window in windows])
    assert windowed == whole


def test_a_window_keeps_only_the_linked_values_later_windows_read(tmp_path: Path) -> None:
    plan = linked_plan(tmp_path)
    first = cut_windows(plan.batches, 100)[0]
    later_links = {
        (link.target, link.path)
        for window in cut_windows(plan.batches, 100)[1:]
        for batch in window.batches
        for command in batch.commands
        for link in command.links
        if link.resolution == "client"
    }
    ran = {command.key for batch in first.batches for command in batch.commands}
    assert first.keep == {stored for stored in later_links if stored[0] in ran}
    assert ("company", ("item", "id")) in first.keep
    assert all(path in (("item", "id"), ("item", "title")) for _, path in first.keep)


def test_without_keep_a_later_window_cannot_resolve_its_links(tmp_path: Path) -> None:
    plan = linked_plan(tmp_path)
    windows = cut_windows(plan.batches, 100)
    with pytest.raises(KeyError):
        run(list(plan.batches), [(window.batches, frozenset()) for window in windows])


def test_one_window_of_everything_keeps_nothing(tmp_path: Path) -> None:
    plan = linked_plan(tmp_path)
    (only,) = cut_windows(plan.batches, 10_000)
    assert only.batches == plan.batches and only.keep == frozenset() and only.commands == 241
