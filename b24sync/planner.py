"""The plan: what will be sent, batch by batch (design section 5).

A ``Plan`` is a frozen value. ``b24sync plan --format json`` prints it and ``b24sync apply PLAN.json``
runs exactly it, so it carries everything the executor needs and nothing secret.

Markers inside ``Command.params`` (plain text in string values):

- ``$result[<command key>][<path>]...``: a link. Its ``Link`` entry says whether the portal resolves it
  inside the batch (``server``) or the executor substitutes it from an earlier batch's stored result
  before sending (``client``). The text is exactly what the portal would parse (reference section 4).
- ``$secret[<NAME>]``: a secret from the environment, substituted by the executor just before sending
  and shown as ``***`` everywhere else.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

from b24sync.encoding import MAX_BATCH, EncodingError, encode_command
from b24sync.errors import PipelineError, Problem
from b24sync.instances import Instance
from b24sync.pipeline import Pipeline, Step, load_pipeline
from b24sync.template import LinkUse, Part, SecretRef, Text

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

    def commands(self) -> list[Command]:
        """Every command of the plan, in sending order."""
        return [command for batch in self.batches for command in batch.commands]


# --- planning ----------------------------------------------------------------------------------------

# reference §4.3 rule 6, §9 and §10.1: on success, the result of these methods always holds these
# paths with a scalar value (a missing or null node would make the portal substitute something else).
KNOWN_PATHS: dict[str, frozenset[tuple[PathStep, ...]]] = {
    "crm.item.add": frozenset({("item", "id")}),
    "crm.item.update": frozenset({("item", "id")}),
    "crm.item.get": frozenset({("item", "id")}),
    "tasks.task.add": frozenset({("task", "id")}),
    "tasks.task.update": frozenset({("task", "id")}),
    "crm.contact.add": frozenset({()}),
    "crm.company.add": frozenset({()}),
    "crm.deal.add": frozenset({()}),
    "crm.lead.add": frozenset({()}),
    "crm.timeline.comment.add": frozenset({()}),
    "crm.activity.todo.add": frozenset({("id",)}),
    "user.current": frozenset({("ID",)}),
}
READ_VERBS = frozenset({"get", "list", "fields", "current", "time", "search", "findbycomm"})
READ_METHODS = frozenset({"profile", "scope", "methods"})
_KEY_CHARS = re.compile(r"[^A-Za-z0-9]+")
_KEY_LENGTH = 40


def is_read(method: str) -> bool:
    """Whether a method only reads (sending it twice, or with a wrong filter, changes nothing)."""
    name = method.lower()
    return name in READ_METHODS or name.rsplit(".", 1)[-1] in READ_VERBS


def is_known_path(method: str, path: tuple[PathStep, ...]) -> bool:
    """Whether ``path`` always exists in a successful result of ``method``."""
    return path in KNOWN_PATHS.get(method.lower(), frozenset())


def format_path(path: tuple[PathStep, ...]) -> str:
    """``('items', 0, 'id')`` as ``items[0].id``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@lru_cache(maxsize=4096)
def marker(key: str, path: tuple[PathStep, ...]) -> str:
    """The reference text the portal reads (reference §4.1): ``$result[key][p1][p2]``."""
    return f"$result[{key}]" + "".join(f"[{part}]" for part in path)


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


@dataclass
class _Node:
    """One command while planning."""

    order: int
    step: Step
    instance: Instance
    key: str
    targets: list[int] = field(default_factory=list)
    after: set[int] = field(default_factory=set)
    strict: dict[int, str] = field(default_factory=dict)
    dependents: list[int] = field(default_factory=list)
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


def plan(pipeline: Pipeline) -> Plan:
    """The plan of a loaded pipeline; raise ``PipelineError`` for a cycle or unencodable parameters."""
    keys = command_keys(pipeline)
    nodes: list[_Node] = []
    index_of: dict[tuple[str, str | None], int] = {}
    by_step: dict[str, list[int]] = {}
    for step in pipeline.steps:
        for instance in step.expansion.instances:
            order = len(nodes)
            nodes.append(_Node(order, step, instance, keys[(step.index, instance.name)]))
            index_of[(step.spec.id, instance.name)] = order
            by_step.setdefault(step.spec.id, []).append(order)
    for node in nodes:
        writes = not is_read(node.step.spec.method)
        for use in node.instance.links:
            target = index_of[(use.ref.step, use.ref.instance)]
            node.targets.append(target)
            node.after.add(target)
            reason = _client_reason(use, nodes[target].step.spec.method, writes)
            if reason is not None and target not in node.strict:
                node.strict[target] = reason
        for step_id in node.step.spec.depends_on:
            node.after.update(by_step.get(step_id, ()))
        node.after.discard(node.order)
        for target in node.after:
            nodes[target].dependents.append(node.order)
    _schedule(nodes, pipeline.spec.defaults.batch_size, pipeline)
    key_of = {ref: nodes[order].key for ref, order in index_of.items()}
    return _build(pipeline, nodes, key_of)


def _client_reason(use: LinkUse, target_method: str, writes: bool) -> str | None:
    """Why a link can never be left to the portal, or ``None`` when it can (reference §4.3)."""
    if use.text_follows:
        return "text follows the link and the portal would swallow it (reference §4.3 rule 1)"
    if writes and not is_known_path(target_method, use.ref.path):
        shown = format_path(use.ref.path) or "the whole result"
        return (
            f"{shown} may be missing from the result of {target_method} and this command writes: "
            "the portal would send a fallback value (reference §4.3 rule 2)"
        )
    return None


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
        for dependent in node.dependents:
            waiting[dependent] -= 1
            if waiting[dependent]:
                continue
            follower = nodes[dependent]
            if any(nodes[target].batch == batch for target in follower.strict):
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


def _build(pipeline: Pipeline, nodes: list[_Node], key_of: Mapping[tuple[str, str | None], str]) -> Plan:
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
        raise PipelineError(problems)
    defaults = pipeline.spec.defaults
    return Plan(
        pipeline=PipelineInfo(path=pipeline.path, sha256=pipeline.sha256),
        batch_size=defaults.batch_size,
        halt_on_error=defaults.halt_on_error,
        batches=tuple(batches),
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
    for use, order in zip(node.instance.links, node.targets, strict=True):
        target = nodes[order]
        text = marker(target.key, use.ref.path)
        if text in links:
            continue
        if target.batch == node.batch:
            method = target.step.spec.method
            reason = (
                f"same batch; {method} always returns {format_path(use.ref.path) or 'its result'}"
                if is_known_path(method, use.ref.path)
                else "same batch; this command only reads, so a fallback value cannot change anything"
            )
            resolution: Literal["server", "client"] = "server"
        else:
            reason = node.strict.get(target.order, "the target runs in an earlier batch")
            resolution = "client"
        links[text] = Link(
            marker=text, target=target.key, path=use.ref.path, resolution=resolution, reason=reason
        )
    params = _finalize(node.instance.params, key_of)
    assert isinstance(params, dict)
    try:
        query = encode_command(node.step.spec.method, params)
    except EncodingError as error:
        problems.append(pipeline.problem(("steps", node.step.index, "params"), str(error)))
        query = ""
    depends_on = tuple(nodes[target].key for target in sorted(node.after))
    in_batch = any(nodes[target].batch == node.batch for target in node.after)
    command = Command(
        key=node.key,
        step=node.step.spec.id,
        instance=node.instance.name,
        method=node.step.spec.method,
        params=params,
        query=query,
        links=tuple(links.values()),
        depends_on=depends_on,
        secrets=node.instance.secrets,
    )
    return command, in_batch


def _finalize(value: object, key_of: Mapping[tuple[str, str | None], str]) -> JsonValue:
    """Rendered parameters as plain data: links become ``$result`` markers, secrets ``$secret`` markers."""
    if isinstance(value, Text):
        return "".join(_part_text(part, key_of) for part in value.parts)
    if isinstance(value, dict):
        return {
            (_finalize(key, key_of) if isinstance(key, Text) else key): _finalize(child, key_of)  # type: ignore[misc]
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [_finalize(child, key_of) for child in value]
    return value  # type: ignore[return-value]


def _part_text(part: Part, key_of: Mapping[tuple[str, str | None], str]) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, SecretRef):
        return f"$secret[{part.name}]"
    return marker(key_of[(part.step, part.instance)], part.path)
