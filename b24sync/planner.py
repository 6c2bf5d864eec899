"""The plan: what will be sent, batch by batch (design section 5).

A ``Plan`` is a frozen value. ``b24sync plan --format json`` prints it and ``b24sync apply PLAN.json``
runs exactly it, so it carries everything the executor needs and nothing secret.

Markers inside ``Command.params`` (plain text in string values):

- ``$result[<command key>][<path>]...``: a link. Its ``Link`` entry says whether the portal resolves it
  inside the batch (``server``) or the executor substitutes it from an earlier batch's stored result
  before sending (``client``). The text is exactly what the portal would parse (reference section 4).
- ``$secret[<NAME>]``: a secret from the environment, substituted by the executor just before sending
  and shown as ``***`` everywhere else.

A ``client`` link is resolved strictly: the executor reads ``Link.path`` in the stored result of
``Link.target``; a missing path fails the command (its dependents are skipped) instead of sending
anything. A marker that is the whole value takes the result's value with its type; inside longer
text it takes the scalar as text. Markers never appear in keys (the pipeline loader refuses links in
keys). ``Command.links`` holds one entry per distinct marker of the command.

``Batch.halt`` is true when a command of the batch depends on an earlier command of the same batch
(a ``server`` link or a ``depends_on``), so the portal stops before a dependent of a failed command.
``Batch.index`` counts from 0 in sending order.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from b24sync.encoding import MAX_BATCH, EncodingError, encode_command
from b24sync.errors import PipelineError, Problem
from b24sync.instances import Instance
from b24sync.linkrules import client_reason, format_path, is_known_path, is_read, marker
from b24sync.lowering import Lowered, UpsertState, lower
from b24sync.pipeline import Pipeline, Step, load_pipeline
from b24sync.template import Part, SecretRef, Text

PLAN_SCHEMA_VERSION: Literal[1] = 1

PathStep = str | int


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Frozen):
    """A value of one command that comes from the result of another."""

    marker: str
    target: str
    path: tuple[PathStep, ...]
    resolution: Literal["server", "client"]
    reason: str


class Command(_Frozen):
    """One command of a batch: a step instance with its method and parameters."""

    key: str
    step: str
    instance: str | None = None
    method: str
    params: JsonValue
    query: str
    links: tuple[Link, ...] = ()
    depends_on: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    action: Literal["call", "create", "update", "delete"] = "call"
    """For upsert steps: what the command does to its record; ``call`` for every other step."""
    record_id: int | None = None
    diff: dict[str, tuple[JsonValue, JsonValue]] = {}
    """For an update: each changed field as (current value, new value)."""


class Unsent(_Frozen):
    """A step instance that sends nothing: its record is unchanged, it is a conflict (several records
    match), it depends on a conflict, or it is a delete that ``apply --allow-delete`` did not allow."""

    key: str
    step: str
    instance: str | None = None
    action: Literal["unchanged", "conflict", "blocked", "delete"]
    record_id: int | None = None
    message: str | None = None


class Batch(_Frozen):
    """The commands of one HTTP request, in the order they run."""

    index: int
    halt: bool
    commands: tuple[Command, ...]


class PipelineInfo(_Frozen):
    """Where a plan came from."""

    path: str
    sha256: str


class Plan(_Frozen):
    """Ordered batches of at most ``batch_size`` commands."""

    schema_version: Literal[1] = PLAN_SCHEMA_VERSION
    pipeline: PipelineInfo
    batch_size: int = MAX_BATCH
    halt_on_error: bool = True
    batches: tuple[Batch, ...]
    unsent: tuple[Unsent, ...] = ()

    def commands(self) -> list[Command]:
        """Every command of the plan, in sending order."""
        return [command for batch in self.batches for command in batch.commands]


# --- planning ----------------------------------------------------------------------------------------

# Command.depends_on lists every dependency, so depends_on between two for_each steps grows as the
# product of their sizes; past this the plan would not fit in memory.
MAX_DEPENDENCIES = 2_000_000
_KEY_CHARS = re.compile(r"[^A-Za-z0-9]+")
_KEY_LENGTH = 40


def command_keys(pipeline: Pipeline) -> dict[tuple[int, str | None], str]:
    """A command key for every instance: the step id, or ``<step>_<instance>`` for ``for_each`` steps.

    Keys follow reference §3.2 (``[A-Za-z][A-Za-z0-9_]*``, never purely numeric) and depend only on
    the pipeline, so the same files always give the same keys.
    """
    keys: dict[tuple[int, str | None], str] = {}
    used = {step.spec.id for step in pipeline.steps if step.spec.for_each is None}
    for step in pipeline.steps:
        if step.spec.for_each is None:
            for instance in step.expansion.instances:
                keys[(step.index, instance.name)] = step.spec.id
            continue
        for position, instance in enumerate(step.expansion.instances):
            name = instance.name or str(position)
            stem = _KEY_CHARS.sub("_", name).strip("_")[:_KEY_LENGTH].rstrip("_") or str(position)
            key = f"{step.spec.id}_{stem}"
            suffix = 2
            while key in used:
                key = f"{step.spec.id}_{stem}_{suffix}"
                suffix += 1
            used.add(key)
            keys[(step.index, instance.name)] = key
    return keys


@dataclass(slots=True)
class _Node:
    """One command while planning (tuples and lazy containers: the garbage collector scans less)."""

    order: int
    step: Step
    instance: Instance
    key: str
    method: str
    lowered: Lowered | None
    targets: tuple[int, ...] = ()
    after: tuple[int, ...] = ()
    strict: dict[int, str] | None = None
    dependents: list[int] | None = None
    batch: int = -1
    sequence: int = -1


def plan_file(
    path: str,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Load the pipeline file at ``path`` and plan it; every problem raises one ``PipelineError``."""
    return plan(load_pipeline(path, variables=variables, environ=environ))


def plan(pipeline: Pipeline, state: UpsertState | None = None, allow_delete: bool = False) -> Plan:
    """The plan of a loaded pipeline; raise ``PipelineError`` for a cycle or unencodable parameters.

    ``state`` is what the portal holds for the pipeline's upsert steps (``b24sync.state.read_state``);
    without it every upsert instance is planned as a create.
    """
    keys = command_keys(pipeline)
    lowered, settled = lower(pipeline, state)
    unsent = [Unsent(key=keys[(_index(pipeline, s.step), s.instance)], step=s.step, instance=s.instance,
                     action=s.action, record_id=s.record_id, message=s.message) for s in settled]
    nodes: list[_Node] = []
    index_of: dict[tuple[str, str | None], int] = {}
    by_step: dict[str, list[int]] = {}
    for step in pipeline.steps:
        for instance in step.expansion.instances:
            low = lowered.get((step.spec.id, instance.name)) if lowered is not None else None
            if lowered is not None and low is None:
                continue  # settled: unchanged, a conflict, or blocked by one
            order = len(nodes)
            key = keys[(step.index, instance.name)]
            if low is None:
                nodes.append(_Node(order, step, instance, key, step.spec.method, None))
            else:
                nodes.append(_Node(order, step, low.instance, key, low.method, low))
            index_of[(step.spec.id, instance.name)] = order
            by_step.setdefault(step.spec.id, []).append(order)
        for record_id in state.deletes.get(step.spec.id, ()) if state is not None else ():
            key = f"{step.spec.id}_delete_{record_id}"
            if not allow_delete:
                unsent.append(Unsent(key=key, step=step.spec.id, instance=f"delete {record_id}",
                                     action="delete", record_id=record_id,
                                     message="absent from the source; apply --allow-delete deletes it"))
                continue
            assert step.spec.upsert is not None
            params: dict[object, object] = {"entityTypeId": step.spec.upsert.entity_type_id, "id": record_id}
            instance = Instance(f"delete {record_id}", params, (), (), "")
            nodes.append(_Node(len(nodes), step, instance, key, "crm.item.delete",
                               Lowered("crm.item.delete", instance, "delete", record_id)))
    _check_dependency_count(pipeline, by_step)
    for node in nodes:
        writes = not is_read(node.method)
        node.targets = tuple(index_of[(use.ref.step, use.ref.instance)] for use in node.instance.links)
        after = set(node.targets)
        for use, target in zip(node.instance.links, node.targets, strict=True):
            reason = client_reason(use, nodes[target].method, writes)
            if reason is not None:
                node.strict = node.strict if node.strict is not None else {}
                node.strict.setdefault(target, reason)
        for step_id in node.step.spec.depends_on:
            after.update(by_step.get(step_id, ()))
        after.discard(node.order)
        node.after = tuple(sorted(after))
        for target in node.after:
            dependents = nodes[target].dependents
            if dependents is None:
                nodes[target].dependents = dependents = []
            dependents.append(node.order)
    _schedule(nodes, pipeline.spec.defaults.batch_size, pipeline)
    key_of = {ref: nodes[order].key for ref, order in index_of.items()}
    return _build(pipeline, nodes, key_of, unsent)


def _check_dependency_count(pipeline: Pipeline, by_step: Mapping[str, list[int]]) -> None:
    """Refuse ``depends_on`` between big ``for_each`` steps: every pair is a listed dependency."""
    total = 0
    for step in pipeline.steps:
        instances = len(step.expansion.instances)
        count = instances * sum(len(by_step.get(step_id, ())) for step_id in step.spec.depends_on)
        total += count
        if total > MAX_DEPENDENCIES:
            message = (
                f"depends_on makes every one of the {instances} instances of {step.spec.id!r} depend on "
                f"every instance of {', '.join(step.spec.depends_on)}: {count} dependencies, more than "
                f"the {MAX_DEPENDENCIES} a plan may list; link each instance to the one it needs"
            )
            raise PipelineError([pipeline.problem(("steps", step.index, "depends_on"), message)])


def _schedule(nodes: list[_Node], batch_size: int, pipeline: Pipeline) -> None:
    """Pack nodes greedily into batches: ready nodes in file order, strict links to a later batch."""
    waiting = [len(node.after) for node in nodes]
    ready = [node.order for node in nodes if not node.after]
    heapq.heapify(ready)
    deferred: list[int] = []
    batch = 0
    filled = 0
    placed = 0
    while placed < len(nodes):
        if not ready or filled == batch_size:
            if not deferred and not ready:
                raise PipelineError(_cycle_problems(nodes, pipeline))
            batch += 1
            filled = 0
            for order in deferred:
                heapq.heappush(ready, order)
            deferred = []
            continue
        node = nodes[heapq.heappop(ready)]
        node.batch = batch
        node.sequence = placed
        filled += 1
        placed += 1
        for dependent in node.dependents or ():
            waiting[dependent] -= 1
            if waiting[dependent]:
                continue
            follower = nodes[dependent]
            if follower.strict and any(nodes[target].batch == batch for target in follower.strict):
                deferred.append(dependent)
            else:
                heapq.heappush(ready, dependent)


def _cycle_problems(nodes: list[_Node], pipeline: Pipeline) -> list[Problem]:
    """One problem naming the steps of a dependency cycle, each with its line."""
    unplaced = {node.order for node in nodes if node.batch < 0}
    # Walk backwards along unplaced dependencies until a node repeats: that closes a cycle.
    start = min(unplaced)
    seen: dict[int, int] = {}
    path: list[int] = []
    current = start
    while current not in seen:
        seen[current] = len(path)
        path.append(current)
        current = min(target for target in nodes[current].after if target in unplaced)
    cycle = path[seen[current] :]
    steps: list[Step] = []
    for order in cycle:
        if nodes[order].step not in steps:
            steps.append(nodes[order].step)
    first = min(range(len(steps)), key=lambda position: steps[position].index)
    steps = steps[first:] + steps[:first]
    names = " -> ".join(f"{step.spec.id} (line {step.line})" for step in [*steps, steps[0]])
    return [
        pipeline.problem(("steps", steps[0].index), f"dependency cycle (each step needs the next): {names}")
    ]


def _build(pipeline: Pipeline, nodes: list[_Node], key_of: Mapping[tuple[str, str | None], str],
           unsent: list[Unsent]) -> Plan:
    ordered = sorted(nodes, key=lambda node: node.sequence)
    problems: list[Problem] = []
    batches: list[Batch] = []
    current: list[Command] = []
    halt = False
    for position, node in enumerate(ordered):
        command, in_batch = _command(node, nodes, key_of, pipeline, problems)
        current.append(command)
        halt = halt or in_batch
        if position + 1 == len(ordered) or ordered[position + 1].batch != node.batch:
            batches.append(Batch(index=node.batch, halt=halt, commands=tuple(current)))
            current, halt = [], False
    if problems:
        # Every instance of a step shares its parameter names: report each problem once.
        raise PipelineError(sorted(set(problems), key=lambda p: (p.line, p.col, p.message)))
    defaults = pipeline.spec.defaults
    return Plan(
        pipeline=PipelineInfo(path=pipeline.path, sha256=pipeline.sha256),
        batch_size=defaults.batch_size,
        halt_on_error=defaults.halt_on_error,
        batches=tuple(batches),
        unsent=tuple(unsent),
    )


def _command(
    node: _Node,
    nodes: list[_Node],
    key_of: Mapping[tuple[str, str | None], str],
    pipeline: Pipeline,
    problems: list[Problem],
) -> tuple[Command, bool]:
    """The command of a node, and whether it depends on a command of its own batch."""
    links: dict[str, Link] = {}
    writes = not is_read(node.method)
    for use, order in zip(node.instance.links, node.targets, strict=True):
        target = nodes[order]
        text = marker(target.key, use.ref.path)
        method = target.method
        if target.batch == node.batch:
            if text in links:
                continue
            reason = (
                f"same batch; {method} always returns {format_path(use.ref.path) or 'its result'}"
                if is_known_path(method, use.ref.path)
                else "same batch; this command only reads, so a fallback value cannot change anything"
            )
            resolution: Literal["server", "client"] = "server"
        else:
            # Of all uses of one marker, the one the portal could not resolve gives the reason.
            strict = client_reason(use, method, writes)
            if text in links and strict is None:
                continue
            reason = strict or "the target runs in an earlier batch"
            resolution = "client"
        # model_construct: every value here is built from validated data; validating 100,000
        # commands again would double the planning time (tests check a plan validates as JSON).
        links[text] = Link.model_construct(
            marker=text, target=target.key, path=use.ref.path, resolution=resolution, reason=reason
        )
    params = _finalize(node.instance.params, node.instance.text_paths, key_of)
    try:
        query = encode_command(node.method, params)
    except EncodingError as error:
        problems.append(pipeline.problem(("steps", node.step.index, "params"), str(error)))
        query = ""
    depends_on = tuple(nodes[target].key for target in node.after)
    in_batch = any(nodes[target].batch == node.batch for target in node.after)
    command = Command.model_construct(
        key=node.key,
        step=node.step.spec.id,
        instance=node.instance.name,
        method=node.method,
        params=params,
        query=query,
        links=tuple(links.values()),
        depends_on=depends_on,
        secrets=node.instance.secrets,
        **(_upsert_fields(node.lowered, params) if node.lowered is not None else {}),
    )
    return command, in_batch


def _upsert_fields(lowered: Lowered, params: Mapping[str, Any]) -> dict[str, Any]:
    diff = {name: (old, _shown(params, name)) for name, (old, _) in (lowered.diff or {}).items()}
    return {"action": lowered.action, "record_id": lowered.record_id, "diff": diff}


def _shown(params: Mapping[str, Any], name: str) -> JsonValue:
    fields = params.get("fields")
    return fields.get(name) if isinstance(fields, dict) else None


def _index(pipeline: Pipeline, step_id: str) -> int:
    return next(step.index for step in pipeline.steps if step.spec.id == step_id)


def _finalize(
    params: Mapping[object, object],
    text_paths: tuple[tuple[PathStep, ...], ...],
    key_of: Mapping[tuple[str, str | None], str],
) -> dict[str, JsonValue]:
    """Rendered parameters as plain data: links become ``$result`` markers, secrets ``$secret`` markers.

    Only the containers on the way to a ``Text`` value are copied (rendered trees share the parts
    without templates), which keeps planning 100,000 commands fast.
    """
    result: dict[Any, Any] = dict(params)
    for path in text_paths:
        container: Any = result
        for part in path[:-1]:
            child = container[part]
            container[part] = child = dict(child) if isinstance(child, dict) else list(child)
            container = child
        text = container[path[-1]]
        assert isinstance(text, Text)
        container[path[-1]] = "".join(_part_text(part, key_of) for part in text.parts)
    return result


def _part_text(part: Part, key_of: Mapping[tuple[str, str | None], str]) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, SecretRef):
        return f"$secret[{part.name}]"
    return marker(key_of[(part.step, part.instance)], part.path)
