"""Settling the writes an earlier run left ``unknown``: look them up in the portal, or take the user's word.

A ``crm.item.add`` whose fields carry an external key (``originatorId`` with ``originId``, or
``xmlId``) can be found again: ``--resume`` reads the portal for it (one ``crm.item.list`` command
each, 50 to a request) and takes the record found as the command's result, with its real id, so the
links of its dependents work; no record means the write did not happen and it is sent again. Several
records, or a command without such a key, stay unknown for the user to settle.

``--assume-applied`` settles the rest as applied. A dependent that links into one of them needs the
id the record got: ``--applied-id KEY=ID`` gives it (``KEY`` a command key or ``step[instance]``);
without it the resume is refused, since every later run would fail ``LINK_MISSING``.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.client.encoding import encode_command
from b24sync.client.hook import B24Hook
from b24sync.errors import UsageError
from b24sync.pipeline.instances import instance_name
from b24sync.planning.model import Command

LOOKUP_KEYS: tuple[tuple[str, ...], ...] = (("originatorId", "originId"), ("xmlId",))
"""Field sets of ``crm.item.add`` that find the record again (protocol §9.2: both are filterable)."""
ID_PATHS = frozenset({(), ("id",), ("ID",), ("item", "id")})
"""Link paths an id given with ``--applied-id`` can answer."""


@dataclass
class Settled:
    """Unknown writes sorted out: found (with the record as result), not found, still unknown."""

    applied: dict[str, JsonValue] = field(default_factory=dict)
    not_applied: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def lookup_filter(command: Command) -> dict[str, Any] | None:
    """The ``crm.item.list`` parameters that find the record ``command`` creates, if it has a key."""
    if command.method.lower() != "crm.item.add" or not isinstance(command.params, dict):
        return None
    fields = command.params.get("fields")
    type_id = command.params.get("entityTypeId")
    if not isinstance(fields, dict) or type_id is None:
        return None
    for names in LOOKUP_KEYS:
        values = [fields.get(name) for name in names]
        if all(_plain_key(v) for v in values):
            return {
                "entityTypeId": type_id,
                "filter": {f"={name}": value for name, value in zip(names, values, strict=True)},
                "select": ["*"],
            }
    return None


def _plain_key(value: object) -> bool:
    # a value known only after a link, or a secret, is not the value the record holds: no lookup
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "":
        return False
    return "$result[" not in str(value) and "$secret[" not in str(value)


def settle_by_lookup(keys: Sequence[str], commands_of_run: Iterable[Command], client: B24Hook) -> Settled:
    """Read the portal for every unknown ``crm.item.add`` with an external key (``commands_of_run``:
    the run's commands, those of ``keys`` among them)."""
    wanted = set(keys)
    commands = {command.key: command for command in commands_of_run if command.key in wanted}
    settled = Settled()
    queries: dict[str, dict[str, Any]] = {}
    for key in keys:
        command = commands.get(key)
        query = lookup_filter(command) if command is not None else None
        if query is None:
            settled.unknown.append(key)
        else:
            queries[key] = query
    pending = list(queries)
    while pending:
        chunk, pending = pending[:MAX_BATCH], pending[MAX_BATCH:]
        encoded = {key: encode_command("crm.item.list", queries[key]) for key in chunk}
        reply = client.send_batch(
            encoded, halt=False, methods=dict.fromkeys(encoded, "crm.item.list"), safe=True
        )
        for key in chunk:
            page = reply.results.get(key)
            rows = page.get("items") if isinstance(page, Mapping) else None
            if key in reply.errors or not isinstance(rows, list) or len(rows) > 1:
                settled.unknown.append(key)  # refused, or several records carry the key: the user decides
            elif rows:
                settled.applied[key] = {"item": rows[0]}
            else:
                settled.not_applied.append(key)
    return settled


def parse_applied_ids(pairs: Sequence[str], commands: Iterable[Command]) -> dict[str, int | str]:
    """``--applied-id KEY=ID`` pairs by command key; ``KEY`` may also be ``step[instance]`` (a command
    of ``commands``, the run's)."""
    given = {pair.partition("=")[0].strip() for pair in pairs}
    by_name: dict[str, str] = {}
    keys: set[str] = set()
    for c in commands:
        if c.key in given:
            keys.add(c.key)
        name = instance_name(c.step, c.instance)
        if name in given:
            by_name[name] = c.key
    ids: dict[str, int | str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        key = name.strip() if name.strip() in keys else by_name.get(name.strip())
        if not sep or not value.strip() or key is None:
            raise UsageError(
                "--applied-id expects KEY=ID with KEY a command key or step[instance] of the plan, "
                f"got {pair!r}"
            )
        ids[key] = int(value) if value.strip().isdigit() else value.strip()
    return ids


def assumed_results(
    unknown: Sequence[str],
    commands: Iterable[Command],
    ids: Mapping[str, int | str],
    done: Container[str] = (),
) -> dict[str, JsonValue]:
    """The results ``--assume-applied`` records: the given id where a dependent links to the command.

    Refuses (before anything is sent) when a dependent that will run (not in ``done`` nor itself
    unknown) links into a command without a given id, or reads something of it other than its id.
    ``commands``: the run's, gone through once (a million of them are never held: of the links into
    each unknown command only the paths are kept, and the first reading more than an id).
    """
    lost = set(unknown)
    names: dict[str, str] = {}
    paths: dict[str, set[tuple[str | int, ...]]] = {}
    other: dict[str, tuple[str, tuple[str | int, ...]]] = {}
    for command in commands:
        if command.key in lost:
            names[command.key] = _name(command)
        if command.key in done or command.key in lost:
            continue  # it does not run again: it needs no value
        for link in command.links:
            if link.target in lost:
                path = tuple(link.path)
                paths.setdefault(link.target, set()).add(path)
                if path not in ID_PATHS:
                    other.setdefault(link.target, (_name(command), path))
    results: dict[str, JsonValue] = {}
    missing: list[str] = []
    for key in unknown:
        used = paths.get(key, set())
        if key not in ids:
            if used:
                missing.append(key)
            results[key] = None
            continue
        if key in other:
            reader, path = other[key]
            raise UsageError(
                f"{names.get(key, key)}: {reader} links to its {'.'.join(map(str, path))}, "
                "which an id cannot give: settle it with --assume-not-applied, or run that step again"
            )
        value = ids[key]
        if used == {()}:
            results[key] = value  # old CRM add methods answer with the bare id (protocol §9.3)
        elif used <= {("item", "id")}:
            results[key] = {"item": {"id": value}}  # crm.item.add (protocol §9.2)
        else:
            results[key] = {"item": {"id": value}, "id": value, "ID": value}
    if missing:
        shown = ", ".join(f"{names.get(k, k)} ({k})" for k in missing[:5]) + (
            " ..." if len(missing) > 5 else ""
        )
        first = missing[0]
        raise UsageError(
            f"--assume-applied: later steps link to {shown}, so b24sync needs the id each record got: find "
            f"them in the portal and pass --applied-id {first}=ID for each, or use --assume-not-applied"
        )
    return results


def _name(command: Command) -> str:
    return instance_name(command.step, command.instance)
