"""Upsert steps turned into plain commands, record by record, from the portal's current state. Pure.

Each instance of an upsert step becomes ``crm.item.add`` (no record matches), ``crm.item.update``
with only the changed fields (one record matches and differs), or nothing at all (unchanged). A link
``steps.X[k].id`` to an upsert instance becomes the record's id when the record exists, or the link
``$result[<key>][item][id]`` of its create (a path ``crm.item.add`` always returns, so the portal may
resolve it inside a batch). An instance matching several records is a conflict (``on_conflict:
fail``) or skipped (``skip``); whatever depends on it is not planned either. With ``oldest`` it
updates the record with the lowest id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from b24sync.bitrix.results import CREATED_ITEM_ID
from b24sync.pipeline.instances import Instance, instance_name
from b24sync.pipeline.loader import Pipeline, Step
from b24sync.pipeline.template import LinkRef, LinkUse, Text
from b24sync.upsert.decide import Decision, create_fields
from b24sync.upsert.unsent import Unsent

Ref = tuple[str, str | None]
DELETE_METHOD = "crm.item.delete"


@dataclass(frozen=True)
class UpsertState:
    """The portal's answer for every upsert instance, and the records ``delete_missing`` would delete."""

    decisions: Mapping[Ref, Decision] = field(default_factory=dict)
    deletes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lowered:
    """The command an instance becomes."""

    method: str
    instance: Instance
    action: Literal["call", "create", "update", "delete"] = "call"
    record_id: int | None = None
    diff: Mapping[str, tuple[Any, Any]] | None = None
    reshaped: frozenset[str] = frozenset()
    """Fields sent in another form than their desired value (``fm``: only the missing entries)."""


@dataclass(frozen=True)
class Settled:
    """An instance that sends nothing: unchanged, a conflict, or blocked by a conflict."""

    step: str
    instance: str | None
    action: Literal["unchanged", "conflict", "skipped", "blocked"]
    record_id: int | None = None
    message: str | None = None


def _decision(state: UpsertState | None, ref: Ref) -> Decision:
    if state is None:
        return Decision(str(ref[1]), "create")  # without a portal every record is new
    return state.decisions.get(ref) or Decision(str(ref[1]), "create")


def lower(pipeline: Pipeline, state: UpsertState | None) -> tuple[dict[Ref, Lowered] | None, list[Settled]]:
    """Every instance as the command to plan, or settled without one; ``None`` without upsert steps
    (every instance is planned as written, and 100,000 of them need no extra objects)."""
    upserts = {step.spec.id for step in pipeline.steps if step.spec.upsert is not None}
    if not upserts:
        return None, []
    blocked = _blocked(pipeline, state, upserts)
    lowered: dict[Ref, Lowered] = {}
    settled: list[Settled] = []
    for step in pipeline.steps:
        for instance in step.expansion.instances:
            ref = (step.spec.id, instance.name)
            if ref in blocked:
                decision = _decision(state, ref)
                if step.spec.upsert is not None and decision.action in ("ambiguous", "skip"):
                    ids = ", ".join(str(i) for i in decision.matches)
                    rendered = instance.params.get("match") if isinstance(instance.params, dict) else None
                    shown = dict(rendered) if isinstance(rendered, Mapping) else dict(step.spec.upsert.match)
                    several = f"{len(decision.matches)} records match {shown} "
                    if decision.action == "skip":
                        message = f"{several}(ids {ids}); skipped as on_conflict: skip asks"
                        settled.append(Settled(ref[0], ref[1], "skipped", message=message))
                        continue
                    message = (
                        f"{several}(ids {ids}): make the match unique, remove the "
                        "duplicates, or choose on_conflict: skip or oldest"
                    )
                    settled.append(Settled(ref[0], ref[1], "conflict", message=message))
                else:
                    settled.append(Settled(ref[0], ref[1], "blocked", message=blocked[ref]))
                continue
            rewritten = _rewrite_links(instance, upserts, state)
            if step.spec.upsert is None:
                lowered[ref] = Lowered(step.spec.method, rewritten)
                continue
            decision = _decision(state, ref)
            if decision.action == "unchanged":
                settled.append(Settled(ref[0], ref[1], "unchanged", decision.record_id))
            else:
                lowered[ref] = _upsert_command(step, rewritten, decision)
    return lowered, settled


@dataclass(frozen=True, slots=True)
class Deletion:
    """A record ``delete_missing`` deletes: its command key and the command."""

    key: str
    lowered: Lowered


def deletions(
    step: Step, state: UpsertState | None, allow_delete: bool
) -> tuple[list[Deletion], list[Unsent]]:
    """The deletes of a ``delete_missing`` step: commands with ``allow_delete``, else unsent entries."""
    upsert = step.spec.upsert
    commands: list[Deletion] = []
    held: list[Unsent] = []
    for record_id in state.deletes.get(step.spec.id, ()) if state is not None and upsert else ():
        key = f"{step.spec.id}_delete_{record_id}"
        name = f"delete {record_id}"
        if not allow_delete:
            held.append(
                Unsent(
                    key=key,
                    step=step.spec.id,
                    instance=name,
                    action="delete",
                    record_id=record_id,
                    message="absent from the source; apply --allow-delete deletes it",
                )
            )
            continue
        assert upsert is not None
        params: dict[object, object] = {"entityTypeId": upsert.entity_type_id, "id": record_id}
        instance = Instance(name, params, (), (), "")
        commands.append(Deletion(key, Lowered(DELETE_METHOD, instance, "delete", record_id)))
    return commands, held


def _blocked(pipeline: Pipeline, state: UpsertState | None, upserts: set[str]) -> dict[Ref, str]:
    """Conflicts and everything that needs them, each with the reason."""
    conflicts = {
        (step.spec.id, instance.name)
        for step in pipeline.steps
        if step.spec.id in upserts
        for instance in step.expansion.instances
        if _decision(state, (step.spec.id, instance.name)).action in ("ambiguous", "skip")
    }
    blocked = dict.fromkeys(conflicts, "matches several records")
    changed = bool(blocked)
    while changed:
        changed = False
        for step in pipeline.steps:
            waits_on = [r for r in blocked if r[0] in step.spec.depends_on]
            for instance in step.expansion.instances:
                ref = (step.spec.id, instance.name)
                if ref in blocked:
                    continue
                needs = [(u.ref.step, u.ref.instance) for u in instance.links] + waits_on
                cause = next((r for r in needs if r in blocked), None)
                if cause is not None:
                    why = "matches several records" if cause in conflicts else "cannot be planned"
                    blocked[ref] = f"depends on {instance_name(*cause)}, which {why}"
                    changed = True
    return blocked


def _rewrite_links(instance: Instance, upserts: set[str], state: UpsertState | None) -> Instance:
    """Links to upsert instances: the known record id, or the create's ``item.id``."""
    if not any(use.ref.step in upserts for use in instance.links):
        return instance
    params: Any = _copy(instance.params)
    text_paths: list[tuple[str | int, ...]] = []
    for path in instance.text_paths:
        container = params
        for step_in in path[:-1]:
            container = container[step_in]
        value = container[path[-1]]
        assert isinstance(value, Text)
        parts: list[Any] = []
        for part in value.parts:
            if isinstance(part, LinkRef) and part.step in upserts:
                decision = _decision(state, (part.step, part.instance))
                known = decision.record_id
                part = str(known) if known is not None else replace(part, path=CREATED_ITEM_ID)
            parts.append(part)
        if all(isinstance(p, str) for p in parts):
            whole_id = len(value.parts) == 1 and parts[0].isdigit()
            container[path[-1]] = int(parts[0]) if whole_id else "".join(parts)
        else:
            container[path[-1]] = Text(tuple(parts))
            text_paths.append(path)
    links: list[LinkUse] = []
    for use in instance.links:
        if use.ref.step not in upserts:
            links.append(use)
            continue
        decision = _decision(state, (use.ref.step, use.ref.instance))
        if decision.record_id is None:
            links.append(replace(use, ref=replace(use.ref, path=CREATED_ITEM_ID)))
    return replace(instance, params=params, links=tuple(links), text_paths=tuple(text_paths))


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_copy(child) for child in value]
    return value


def _upsert_command(step: Step, instance: Instance, decision: Decision) -> Lowered:
    spec = step.spec.upsert
    assert spec is not None
    rendered: Any = instance.params
    match, fields = dict(rendered["match"]), dict(rendered["fields"])

    def moved(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
        return ("fields", *path[1:]) if path[:1] == ("match",) else path

    text_paths = tuple(moved(p) for p in instance.text_paths)
    links = tuple(replace(u, path=moved(u.path)) for u in instance.links)
    if decision.action == "create":
        params: dict[object, object] = {
            "entityTypeId": spec.entity_type_id,
            "fields": create_fields(match, fields),
        }
        return Lowered(
            "crm.item.add", replace(instance, params=params, text_paths=text_paths, links=links), "create"
        )
    keep = set(decision.diff)
    params = {
        "entityTypeId": spec.entity_type_id,
        "id": decision.record_id,
        "fields": {name: decision.sent.get(name, value) for name, value in fields.items() if name in keep},
    }
    text_paths = tuple(p for p in text_paths if p[1] in keep)
    links = tuple(u for u in links if u.path[1] in keep)
    return Lowered(
        "crm.item.update",
        replace(instance, params=params, text_paths=text_paths, links=links),
        "update",
        decision.record_id,
        decision.diff,
        frozenset(decision.sent),
    )
