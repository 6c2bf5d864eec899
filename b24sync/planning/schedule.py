"""Packing the graph into batches: whole chains of dependents together, links across batches far apart.

protocol §3.3 and §4.3 rule 4: a batch holds at most 50 commands and references never cross
requests, so a command whose link the portal may not resolve waits for a batch after its target's.

Every batch is filled while any command is ready, so a plan without such links has the fewest
requests, ceil(commands / 50). Which ready command goes next:

- a command whose dependencies all sit in the batch being filled goes right after them (depth
  first: the rest of its chain is resolved by the portal, ``$result[...]``, with no wait);
- else a command with no dependencies, in file order;
- a command left ready when its dependencies' batch closed (a chain cut by the end of a batch, a
  strict link) goes ``SPREAD`` batches later, or sooner when nothing else is ready. So a batch
  depends on batches ``SPREAD`` back, not on the one before it: ``apply --parallel`` can keep that
  many requests in flight, where a plan of all heads first and all tails after is two long lines.
"""

from __future__ import annotations

import heapq

from b24sync.errors import PipelineError, Problem
from b24sync.pipeline.loader import Pipeline, Step
from b24sync.planning.graph import Node

SPREAD = 10
"""Batches between a chain cut by a batch's end and its rest: the most requests ``apply --parallel``
puts in flight (``b24sync.run.executor.MAX_PARALLEL``)."""


def schedule(nodes: list[Node], batch_size: int, pipeline: Pipeline) -> None:
    """Pack nodes into batches as the module says; each node gets its ``batch`` and ``sequence``.

    Nodes ``outside`` a selection are not placed (nothing placed waits for them).
    """
    waiting = [len(node.after) for node in nodes]
    root = [node.order for node in nodes]
    """The node whose chain each node continues: ready nodes are taken by (root, order)."""
    ready = [(node.order, node.order) for node in nodes if not node.after and not node.outside]
    heapq.heapify(ready)
    chained: list[tuple[int, int]] = []
    """(root, order) of the ready nodes released by this batch: those it does not take go ``SPREAD``
    later. Kept apart from ``ready`` so closing a batch looks at them alone, not at every ready node
    (which made packing 5,000 independent commands quadratic: 100 batches x 5,000 nodes)."""
    later: list[tuple[int, int, int]] = []
    """(first batch it goes in unless nothing else is ready, root, order): dependencies all closed."""
    deferred: list[int] = []
    """Strict followers of a node of this batch: they go in a later one."""
    batch = 0
    filled = 0
    placed = 0
    total = sum(1 for node in nodes if not node.outside)
    while placed < total:
        if filled < batch_size and not ready and not chained and later:
            # nothing else is ready: what waits for a later batch may go in this one
            _, rank, order = heapq.heappop(later)
            heapq.heappush(ready, (rank, order))
        if filled == batch_size or (not ready and not chained):
            if not ready and not chained and not deferred and not later:
                raise PipelineError(_cycle_problems(nodes, pipeline))
            # what this batch released and it did not take depends on it now: SPREAD batches later
            for rank, order in chained:
                heapq.heappush(later, (batch + SPREAD, rank, order))
            for order in deferred:
                heapq.heappush(later, (batch + SPREAD, root[order], order))
            chained = []
            deferred = []
            batch += 1
            filled = 0
            while later and later[0][0] <= batch:
                _, rank, order = heapq.heappop(later)
                heapq.heappush(ready, (rank, order))
            continue
        if chained and (not ready or chained[0] < ready[0]):
            _, order = heapq.heappop(chained)
        else:
            _, order = heapq.heappop(ready)
        node = nodes[order]
        node.batch = batch
        node.sequence = placed
        filled += 1
        placed += 1
        for dependent in node.dependents or ():
            waiting[dependent] -= 1
            if waiting[dependent]:
                continue
            follower = nodes[dependent]
            root[dependent] = root[order]
            if follower.strict and any(nodes[target].batch == batch for target in follower.strict):
                deferred.append(dependent)
            else:
                heapq.heappush(chained, (root[order], dependent))


def _cycle_problems(nodes: list[Node], pipeline: Pipeline) -> list[Problem]:
    """One problem naming the steps of a dependency cycle, each with its line."""
    unplaced = {node.order for node in nodes if node.batch < 0 and not node.outside}
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
        pipeline.problem(
            ("steps", steps[0].index), f"dependency cycle (each step needs the next): {names}", code="cycle"
        )
    ]
