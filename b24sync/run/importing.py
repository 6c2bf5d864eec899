"""One outcome per record of a ``crm.item.batchImport`` command (protocol §9.8b). Pure.

The planner packs the instances of a ``mode: import`` step into ``crm.item.batchImport`` commands
(``b24sync.planning.importing``); the executor runs such a command like any other. This module turns
the command's one ``StepResult`` back into one per instance, in the order of ``data``:
``result.items[i]`` is either ``{"item": {"id": N}}`` (the record was created: ``succeeded`` with
that id, the result a ``crm.item.add`` link reads) or ``{"error", "error_description"}`` (that record
alone ``failed``; its siblings were created regardless). A command that did not succeed as a whole
gives each of its records its own status, error or reason.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from b24sync.client.encoding import encode_command
from b24sync.pipeline.models import built
from b24sync.planning.model import Batch, Command, Imported, Link, Plan
from b24sync.report.model import StepResult

NO_RESULT = "IMPORT_NO_RESULT"
ADD_METHOD = "crm.item.add"
"""What an imported record is, unpacked: the command a ``mode: import`` step had before packing."""
OLD_JOURNAL = (
    "--resume cannot read the import commands of {path}: it was written by an older b24sync, which "
    "recorded a crm.item.batchImport command whole ({key}), not record by record, so what it created "
    "cannot be told apart. Check the portal, then run the import steps again without --resume (left "
    "out with --exclude once they succeeded)"
)


def per_instance(outcome: StepResult, imported: Sequence[Imported]) -> list[StepResult]:
    """The outcome of each record of an import command (``Plan.imports`` of its key); else ``[outcome]``."""
    if not imported:
        return [outcome]
    items = _items(outcome.result) if outcome.status == "succeeded" else None
    results: list[StepResult] = []
    for position, record in enumerate(imported):
        common: dict[str, Any] = {
            "step": outcome.step,
            "instance": record.instance,
            "command_key": record.key,
            "method": outcome.method,
            "batch_index": outcome.batch_index,
            "attempts": outcome.attempts,
        }
        if outcome.status != "succeeded":
            results.append(
                StepResult(
                    **common,
                    status=outcome.status,
                    error_code=outcome.error_code,
                    error_description=outcome.error_description,
                    skip_reason=outcome.skip_reason,
                )
            )
            continue
        element = items[position] if items is not None and position < len(items) else None
        results.append(StepResult(**common, **_element(element, position)))
    return results


def _items(result: Any) -> list[Any] | None:
    items = result.get("items") if isinstance(result, Mapping) else None
    return items if isinstance(items, list) else None


def _element(element: Any, position: int) -> dict[str, Any]:
    """The status, id, result or error of one element of ``items``."""
    if isinstance(element, Mapping):
        item = element.get("item")
        ident = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(ident, (int, str)) and not isinstance(ident, bool):
            return {"status": "succeeded", "created_id": ident, "result": {"item": {"id": ident}}}
        if element.get("error") is not None:
            return {
                "status": "failed",
                "error_code": str(element["error"]),
                "error_description": str(element.get("error_description", "")),
            }
    return {
        "status": "failed",
        "error_code": NO_RESULT,
        "error_description": f"the crm.item.batchImport answer holds no id or error for record {position}",
    }


def record_keys(plan: Plan) -> dict[str, str]:
    """The import command of each imported record, by the record's key."""
    return {record.key: key for key, records in plan.imports.items() for record in records}


def journaled(imports: Mapping[str, Sequence[Imported]], keys: Sequence[str]) -> list[str]:
    """``keys`` with each import command replaced by its records' keys (``imports``: ``Plan.imports``):
    the journal records an import record by record, so that a resumed run can tell which records a
    command created."""
    if not imports:
        return list(keys)
    return [record.key for key in keys for record in imports.get(key, (Imported(key=key),))]


def unpack(plan: Plan, settled: Collection[str]) -> Plan:
    """The plan with the ``settled`` records taken out of its import commands (``--resume``).

    Each settled record becomes the ``crm.item.add`` command it was before it was packed (the
    ``Imported`` key, its own fields), placed in its import command's batch: a resumed run takes it as
    done and never sends it, and a link into it reads the recorded id. An import command keeps the
    other records (a command left with none is dropped), and every link into one of them reads its
    new place in the answer. With every record settled this is the plan record by record, as
    ``--resume`` compares it with an earlier run's report.
    """
    if not plan.imports or not settled:
        return plan
    moved: dict[str, tuple[str, int | None]] = {}
    """Of every record of an import command touched: (the key it is read from, its new position or
    None when it is a command of its own)."""
    imports: dict[str, tuple[Imported, ...]] = {}
    batches: list[Batch] = []
    for batch in plan.batches:
        commands: list[Command] = []
        for command in batch.commands:
            records = plan.imports.get(command.key)
            if records is None or not any(r.key in settled for r in records):
                commands.append(command)
                if records is not None:
                    imports[command.key] = records
                continue
            params = command.params if isinstance(command.params, dict) else {}
            data = params.get("data")
            data = data if isinstance(data, list) else []
            kept: list[int] = []
            for position, record in enumerate(records):
                if record.key not in settled:
                    moved[record.key] = (command.key, len(kept))
                    kept.append(position)
                    continue
                moved[record.key] = (record.key, None)
                fields = data[position] if position < len(data) else {}
                commands.append(_record_command(command, record, params.get("entityTypeId"), fields))
            if kept:
                rest: dict[str, JsonValue] = {**params, "data": [data[p] for p in kept if p < len(data)]}
                commands.append(
                    command.model_copy(update={"params": rest, "query": encode_command(command.method, rest)})
                )
                imports[command.key] = tuple(records[p] for p in kept)
        batches.append(built(Batch, {"index": batch.index, "halt": batch.halt, "commands": tuple(commands)}))
    at = {(key, n): record.key for key, records in plan.imports.items() for n, record in enumerate(records)}
    relinked = [
        built(
            Batch,
            {
                "index": b.index,
                "halt": b.halt,
                "commands": tuple(_moved(c, plan.imports, at, moved) for c in b.commands),
            },
        )
        for b in batches
    ]
    return plan.model_copy(update={"batches": tuple(relinked), "imports": imports})


def _record_command(command: Command, record: Imported, entity: Any, fields: Any) -> Command:
    params: dict[str, JsonValue] = {"entityTypeId": entity, "fields": fields}
    return built(
        Command,
        {
            "key": record.key,
            "step": command.step,
            "instance": record.instance,
            "method": ADD_METHOD,
            "params": params,
            "query": encode_command(ADD_METHOD, params),
            "links": (),
            "depends_on": (),
            "secrets": command.secrets,
            "action": command.action,
            "record_id": None,
            "diff": {},
        },
    )


def _moved(
    command: Command,
    imports: Mapping[str, tuple[Imported, ...]],
    at: Mapping[tuple[str, int], str],
    moved: Mapping[str, tuple[str, int | None]],
) -> Command:
    """``command`` with its links into moved records reading where they are now: a link to
    ``[items][i]...`` of an import command, to the command of the record or to its new position."""
    links: list[Link] = []
    for link in command.links:
        path = link.path
        spot = path[1] if len(path) > 1 and path[0] == "items" else None
        record = at.get((link.target, spot)) if isinstance(spot, int) else None
        if record is None or record not in moved:
            links.append(link)
            continue
        target, position = moved[record]
        rest = tuple(path[2:])
        links.append(
            link.model_copy(
                update={"target": target, "path": rest if position is None else ("items", position, *rest)}
            )
        )
    depends_on = command.depends_on
    if any(d in imports for d in depends_on):
        # on an import command: on what now holds its records (the command, its records' own)
        depends_on = tuple(
            dict.fromkeys(
                moved.get(r.key, (d, None))[0] if d in imports else d
                for d in depends_on
                for r in imports.get(d, (Imported(key=d),))
            )
        )
    if tuple(links) == command.links and depends_on == command.depends_on:
        return command
    return command.model_copy(update={"links": tuple(links), "depends_on": depends_on})
