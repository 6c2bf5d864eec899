"""The dependency graph of a plan: one node per command, edges from links and ``depends_on``.

Nodes are slotted records with tuples and lazily made containers: planning 100,000 commands makes
100,000 of them, and the garbage collector scans less that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from b24sync.bitrix.methods import is_read
from b24sync.errors import PipelineError
from b24sync.pipeline.instances import Instance
from b24sync.pipeline.loader import Pipeline, Step
from b24sync.planning.linkrules import client_reason
from b24sync.upsert.lowering import Lowered, UpsertState, deletions, lower
from b24sync.upsert.unsent import Unsent

# Command.depends_on lists every dependency, so depends_on between two for_each steps grows as the
# product of their sizes; past this the plan would not fit in memory.
MAX_DEPENDENCIES = 2_000_000

Ref = tuple[str, str | None]


@dataclass(slots=True)
class Node:
    """One command while planning."""

    order: int
    step: Step
    instance: Instance
    key: str
    method: str
    lowered: Lowered | None
    targets: tuple[int, ...] = ()
    """The node each link of ``instance.links`` points at, in the same order."""
    after: tuple[int, ...] = ()
    """Every node that must run first (link targets and ``depends_on``), sorted."""
    strict: dict[int, str] | None = None
    """Targets whose links the portal may not resolve, with the reason: they go to a later batch."""
    dependents: list[int] | None = None
    batch: int = -1
    sequence: int = -1
    outside: bool = False
    """A command of a step left out by a selection: links may point at it, it is never planned."""


@dataclass(frozen=True)
class Graph:
    """The nodes in file order, the node of every instance, and what sends nothing."""

    nodes: list[Node]
    index_of: dict[Ref, int]
    unsent: list[Unsent]


def build_graph(
    pipeline: Pipeline,
    keys: Mapping[tuple[int, str | None], str],
    state: UpsertState | None,
    allow_delete: bool,
    keep: frozenset[str] | None = None,
) -> Graph:
    """The nodes of every instance that sends a command, linked to what each one needs.

    With ``keep`` (step ids), the nodes of other steps are ``outside``: present as link targets only.
    """
    lowered, settled = lower(pipeline, state)
    index_of_step = {step.spec.id: step.index for step in pipeline.steps}
    unsent = [
        Unsent(
            key=keys[(index_of_step[s.step], s.instance)],
            step=s.step,
            instance=s.instance,
            action=s.action,
            record_id=s.record_id,
            message=s.message,
        )
        for s in settled
        if keep is None or s.step in keep
    ]
    nodes: list[Node] = []
    index_of: dict[Ref, int] = {}
    by_step: dict[str, list[int]] = {}
    for step in pipeline.steps:
        for instance in step.expansion.instances:
            low = lowered.get((step.spec.id, instance.name)) if lowered is not None else None
            if lowered is not None and low is None:
                continue  # settled: unchanged, a conflict, or blocked by one
            order = len(nodes)
            key = keys[(step.index, instance.name)]
            if low is None:
                nodes.append(Node(order, step, instance, key, step.spec.method, None))
            else:
                nodes.append(Node(order, step, low.instance, key, low.method, low))
            index_of[(step.spec.id, instance.name)] = order
            if keep is not None and step.spec.id not in keep:
                nodes[-1].outside = True
            else:
                by_step.setdefault(step.spec.id, []).append(order)
        commands, held = deletions(step, state, allow_delete)
        if keep is not None and step.spec.id not in keep:
            continue  # nothing links to a delete, so a left-out step's deletes need no node
        unsent.extend(held)
        for deletion in commands:
            low = deletion.lowered
            nodes.append(Node(len(nodes), step, low.instance, deletion.key, low.method, low))
    _check_dependency_count(pipeline, by_step)
    _link(nodes, index_of, by_step)
    return Graph(nodes, index_of, unsent)


def _link(nodes: list[Node], index_of: Mapping[Ref, int], by_step: Mapping[str, list[int]]) -> None:
    for node in nodes:
        if not node.instance.links and not node.step.spec.depends_on:
            continue  # needs nothing: the defaults (no targets, nothing after) hold
        writes = not is_read(node.method)
        node.targets = tuple(index_of[(use.ref.step, use.ref.instance)] for use in node.instance.links)
        if node.outside:
            continue  # never planned: it needs nothing and nothing waits for it
        after = {target for target in node.targets if not nodes[target].outside}
        for use, target in zip(node.instance.links, node.targets, strict=True):
            if nodes[target].outside:
                continue
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
            where = ("steps", step.index, "depends_on")
            raise PipelineError([pipeline.problem(where, message, code="too-many-dependencies")])
