"""After an upsert apply: the records a concurrent writer created with the same match values.

The lock (``b24sync.run.lock``) keeps two runs on one machine apart; nothing keeps another machine,
a person or an integration from creating the record this run planned to create, between the read of
the state and the create. So once the writes are done, the match values of every create that
succeeded are read again (``b24sync.upsert.state.duplicates``: 50 values a command, 50 commands a
request); a create whose values now find several records is reported failed, ``DUPLICATE_AFTER_RUN``,
naming every id, with its created id kept (the write did happen). The run fails (exit 1), and the
next run would fail ``AMBIGUOUS_MATCH`` until the extra records are merged or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from b24sync.client.hook import B24Hook
from b24sync.planning.model import Plan
from b24sync.report.model import Entries, StepResult
from b24sync.upsert.state import duplicates

DUPLICATE_CODE = "DUPLICATE_AFTER_RUN"


def check_duplicates(plan: Plan, steps: Sequence[StepResult], client: B24Hook) -> Sequence[StepResult]:
    """``steps`` with every create whose match values now find several records marked failed."""
    matches = plan.created_matches
    creates: list[tuple[str, int, Mapping[str, Any]]] = []
    types = _entity_types(plan)
    for entry in steps:
        match = matches.get(entry.command_key)
        if entry.status == "succeeded" and match is not None and entry.command_key in types:
            creates.append((entry.command_key, types[entry.command_key], match))
    if not creates:
        return steps
    found = duplicates(client, creates)
    if not found:
        return steps
    marked = (
        _marked(entry, found[entry.command_key], matches) if entry.command_key in found else entry
        for entry in steps
    )
    if isinstance(steps, Entries):  # a lean run's entries stay in columns
        columns = Entries()
        columns.extend(marked)
        return columns
    return list(marked)


def _entity_types(plan: Plan) -> dict[str, int]:
    types: dict[str, int] = {}
    for command in plan.commands():
        if command.key in plan.created_matches and isinstance(command.params, dict):
            type_id = command.params.get("entityTypeId")
            if isinstance(type_id, int) or (isinstance(type_id, str) and type_id.isdigit()):
                types[command.key] = int(type_id)
    return types


def _marked(entry: StepResult, ids: tuple[int, ...], matches: Mapping[str, Mapping[str, Any]]) -> StepResult:
    shown = ", ".join(str(each) for each in ids)
    created = f" (this run created {entry.created_id})" if entry.created_id is not None else ""
    match = dict(matches[entry.command_key])
    message = (
        f"{entry.name}: {len(ids)} records now match {match} (ids {shown}){created}: "
        "another writer created the same record while this run ran; merge or delete the extra records "
        "in the portal, then run again"
    )
    return entry.model_copy(
        update={"status": "failed", "error_code": DUPLICATE_CODE, "error_description": message}
    )
