"""Packing the graph into batches: ready nodes in file order, strict links to a later batch.

protocol §3.3 and §4.3 rule 4: a batch holds at most 50 commands and references never cross
requests, so a command whose link the portal may not resolve waits for a batch after its target's.
"""

from __future__ import annotations

import heapq

from b24sync.errors import PipelineError, Problem
from b24sync.pipeline.loader import Pipeline, Step
from b24sync.planning.graph import Node


def schedule(nodes: list[Node], batch_size: int, pipeline: Pipeline) -> None:
    """Pack nodes greedily into batches: ready nodes in file order, strict links to a later batch.

    Nodes ``outside`` a selection are not placed (nothing placed waits for them).
    """
    waiting = [len(node.after) for node in nodes]
    ready = [node.order for node in nodes if not node.after and not node.outside]
    heapq.heapify(ready)
    deferred: list[int] = []
    batch = 0
    filled = 0
    placed = 0
    total = sum(1 for node in nodes if not node.outside)
    while placed < total:
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
