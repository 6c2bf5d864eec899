"""The plan of a big ``for_each`` step a window at a time, exactly as the whole plan would be.

A million instances planned at once take gigabytes (issue 16); ``apply`` needs them one window at a
time. ``stream_plan`` plans the *head*, every other step and the first instances of the streamed
step, with the one planner, and then makes the batches after it lazily (``StreamedPlan.rest``).

Why the batches are those of the whole plan: the scheduler (``schedule``) places ready commands
in file order, 50 to a batch. The streamed step is the last step of the file, so every other
command comes before its instances in that order; its instances all link to the same commands
(``Scan.uniform``), so they become ready together and are placed in order. Once the head's last
command placed is the streamed step's last instance taken, every other command has been placed and
the whole plan goes on with nothing but the next instances, 50 to a batch, each linking to the same
earlier commands, resolved by b24sync from their stored values (``the target runs in an earlier
batch``). The head is cut where its last batch is full, so the next instance opens a new batch in
both. Anything else (another repeated step, ``depends_on`` on the streamed step, an upsert, an
import, a selection) is planned whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice

from b24sync.errors import PipelineError, Problem, StreamStopped
from b24sync.pipeline.instances import Expansion, Instance, StreamedInstances, key_stem
from b24sync.pipeline.loader import Pipeline, Step
from b24sync.pipeline.models import built
from b24sync.planning.graph import Node
from b24sync.planning.model import Batch, Command, Plan
from b24sync.planning.planner import build_command, keys_by_ref, planned
from b24sync.planning.windows import Stored


@dataclass
class StreamedPlan:
    """A plan whose batches after ``head`` are made while the run goes (``rest``)."""

    head: Plan
    """Every step but the streamed one, and its first instances: the batches that go first."""
    commands: int
    """Commands of the whole run."""
    batches: int
    """Batches of the whole run."""
    linked: frozenset[Stored]
    """The values of the head every later batch links to: kept until the run ends."""
    _rest: _Rest | None = None

    @property
    def rest_method(self) -> str | None:
        """The method of the commands after the head (all of the streamed step), if any."""
        return None if self._rest is None else self._rest.step.spec.method

    def rest(self) -> Iterator[Batch]:
        """The batches after the head, in order, made as they are asked for (once)."""
        return iter(()) if self._rest is None else self._rest.batches()

    def every_command(self) -> Iterator[Command]:
        """The head's commands, then those ``rest`` makes (which it then no longer makes)."""
        yield from self.head.commands()
        for batch in self.rest():
            yield from batch.commands

    def unsent(self) -> Iterator[Batch]:
        """The batches ``rest`` has not made yet, with only what a report entry of a command that
        is never sent needs (key, step, instance, method, what it depends on): for a stopped run,
        whose entries of these say ``not_run``, without rendering or encoding what they would send."""
        return iter(()) if self._rest is None else self._rest.unsent()


def materialized(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with the instances of every streamed step rendered once and kept, to plan whole."""
    if not any(isinstance(s.expansion.instances, StreamedInstances) for s in pipeline.steps):
        return pipeline
    steps = tuple(
        replace(s, expansion=Expansion(tuple(s.expansion.instances), s.expansion.dropped))
        if isinstance(s.expansion.instances, StreamedInstances)
        else s
        for s in pipeline.steps
    )
    return replace(pipeline, steps=steps)


def streamed_step(pipeline: Pipeline) -> Step | None:
    """The step ``stream_plan`` can plan a window at a time, if the pipeline has one."""
    streamed = [s for s in pipeline.steps if isinstance(s.expansion.instances, StreamedInstances)]
    if len(streamed) != 1 or streamed[0] is not pipeline.steps[-1]:
        return None
    step = streamed[0]
    found = step.expansion.instances.scan  # type: ignore[union-attr]
    if not (found.uniform and found.stems_unique) or step.spec.depends_on:
        return None
    others = pipeline.steps[:-1]
    if any(s.spec.upsert is not None or s.spec.mode is not None for s in pipeline.steps):
        return None
    # a key of another step that starts like the streamed step's keys could collide with one of them
    prefix = f"{step.spec.id}_"
    if any(s.spec.id.startswith(prefix) for s in others):
        return None
    return step


def stream_plan(pipeline: Pipeline, window: int) -> StreamedPlan | None:
    """The plan of ``pipeline`` as a head and lazily made batches, or ``None`` when it must be whole.

    The head holds at least ``window`` instances of the streamed step.
    """
    step = streamed_step(pipeline)
    if step is None:
        return None
    batch_size = pipeline.spec.defaults.batch_size
    instances = iter(step.expansion.instances)
    taken = list(islice(instances, max(window, batch_size)))
    total = len(step.expansion.instances)
    head, nodes, key_of = _head(pipeline, step, taken)
    if len(taken) == total:
        return StreamedPlan(head, _count(head), len(head.batches), frozenset())
    last = head.batches[-1].commands
    if _ends_with(last, key_of, step, taken) and len(last) < batch_size:
        taken.extend(islice(instances, batch_size - len(last)))  # fill the head's last batch
        head, nodes, key_of = _head(pipeline, step, taken)
        last = head.batches[-1].commands
    if len(taken) == total:
        return StreamedPlan(head, _count(head), len(head.batches), frozenset())
    if not _ends_with(last, key_of, step, taken) or len(last) != batch_size:
        return None  # another step's command comes after the last instance taken: plan it whole
    others = [node for node in nodes if node.step is not step]
    linked = frozenset((key_of[(use.ref.step, use.ref.instance)], use.ref.path) for use in taken[-1].links)
    rest = _Rest(pipeline, step, instances, others, key_of, len(taken), head.batches[-1].index + 1)
    rest.depends_on = last[-1].depends_on  # every instance waits for the same commands
    remaining = total - len(taken)
    batches = len(head.batches) + -(-remaining // batch_size)
    return StreamedPlan(head, _count(head) + remaining, batches, linked, rest)


def _ends_with(
    last: tuple[Command, ...], key_of: dict[tuple[str, str | None], str], step: Step, taken: list[Instance]
) -> bool:
    """Whether the last command placed is the last instance taken: every other one came before."""
    return bool(taken) and bool(last) and last[-1].key == key_of[(step.spec.id, taken[-1].name)]


def _count(plan: Plan) -> int:
    return sum(len(batch.commands) for batch in plan.batches)


def _head(
    pipeline: Pipeline, step: Step, taken: list[Instance]
) -> tuple[Plan, list[Node], dict[tuple[str, str | None], str]]:
    steps = (*pipeline.steps[:-1], replace(step, expansion=Expansion(tuple(taken), frozenset())))
    head, graph = planned(replace(pipeline, steps=steps))
    return head, graph.nodes, keys_by_ref(graph)


class _Rest:
    """The batches after the head: ``batch_size`` instances each, linking to the head's commands."""

    def __init__(
        self,
        pipeline: Pipeline,
        step: Step,
        instances: Iterator[Instance],
        others: list[Node],
        key_of: dict[tuple[str, str | None], str],
        position: int,
        index: int,
    ) -> None:
        self.pipeline, self.step, self.instances = pipeline, step, instances
        self.others, self.key_of = others, key_of
        self.position, self.index = position, index
        """The next instance's position in the step, and the next batch's index."""
        self.depends_on: tuple[str, ...] = ()

    def _key(self, instance: Instance, position: int) -> str:
        # as planning.keys makes it: the streamed step's stems are distinct and no other key shares its prefix
        return f"{self.step.spec.id}_{key_stem(instance.name or str(position), position)}"

    def batches(self) -> Iterator[Batch]:
        batch_size = self.pipeline.spec.defaults.batch_size
        order = {(node.step.spec.id, node.instance.name): node.order for node in self.others}
        problems: list[Problem] = []
        while True:
            chunk = list(islice(self.instances, batch_size))
            if not chunk:
                return
            commands = []
            halt = False
            for offset, instance in enumerate(chunk):
                position = self.position + offset
                targets = tuple(order[(use.ref.step, use.ref.instance)] for use in instance.links)
                node = Node(
                    len(self.others),
                    self.step,
                    instance,
                    self._key(instance, position),
                    self.step.spec.method,
                    None,
                )
                node.targets = targets
                node.after = tuple(sorted(set(targets)))
                node.batch = self.index
                command, in_batch = build_command(node, self.others, self.key_of, self.pipeline, problems)
                if problems:  # a value the first read could render but not encode: nothing of this batch goes
                    raise StreamStopped(f"{PipelineError(problems)}; nothing from {node.key} on was sent")
                commands.append(command)
                halt = halt or in_batch
            batch = built(Batch, {"index": self.index, "halt": halt, "commands": tuple(commands)})
            self.position, self.index = self.position + len(chunk), self.index + 1  # before the yield:
            yield batch  # a stopped run goes on from here with ``unsent``

    def unsent(self) -> Iterator[Batch]:
        streamed = self.step.expansion.instances
        assert isinstance(streamed, StreamedInstances)
        names = islice(streamed.names(), self.position, None)
        batch_size = self.pipeline.spec.defaults.batch_size
        spec = self.step.spec
        while True:
            chunk = list(islice(names, batch_size))
            if not chunk:
                return
            commands = tuple(
                built(
                    Command,
                    {
                        "key": self._key(instance, self.position + offset),
                        "step": spec.id,
                        "instance": instance.name,
                        "method": spec.method,
                        "params": {},
                        "query": "",
                        "links": (),
                        "depends_on": self.depends_on,
                        "secrets": (),
                        "action": "call",
                        "record_id": None,
                        "diff": {},
                    },
                )
                for offset, instance in enumerate(chunk)
            )
            batch = built(Batch, {"index": self.index, "halt": False, "commands": commands})
            self.position, self.index = self.position + len(chunk), self.index + 1
            yield batch
