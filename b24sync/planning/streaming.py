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
both. Anything else (another repeated step, ``depends_on`` on the streamed step, an upsert, a
selection) is planned whole.

A ``mode: import`` step alone in its pipeline streams too (``_ImportRest``): its plan is nothing but
``crm.item.batchImport`` commands of 20 records in the order of the data, ``imports_per_batch`` to a
batch (``planning.importing``), so the head is the first whole batches of that plan and every later
batch is the next records, packed the same way. Its entity must be written as a constant (a
rendered one could start a new command at any record); a key of a record that reads like an import
command's (``import3``) makes the planner number around it, so that plan is made whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice

from b24sync.client.encoding import EncodingError
from b24sync.errors import PipelineError, Problem, StreamStopped
from b24sync.pipeline.instances import Expansion, Instance, StreamedInstances, key_stem
from b24sync.pipeline.loader import Pipeline, Step
from b24sync.pipeline.models import built
from b24sync.planning.graph import Node
from b24sync.planning.importing import (
    IMPORT_METHOD,
    MAX_IMPORT,
    check_imported,
    import_command,
    imports_per_batch,
    lower_imports,
)
from b24sync.planning.model import Batch, Command, Imported, Plan
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
    _rest: _Rest | _ImportRest | None = None
    entries: int = -1
    """Entries of the run's report: one per command, one per record of an import command."""
    imports: dict[str, tuple[Imported, ...]] = field(default_factory=dict)
    """The records of each import command made so far (the head's, then ``rest``'s as it makes
    them), by command key, as ``Plan.imports`` holds them; whoever runs them takes out those done."""

    def __post_init__(self) -> None:
        if self.entries < 0:
            self.entries = self.commands
        self.imports.update(self.head.imports)
        if isinstance(self._rest, _ImportRest):
            self._rest.imports = self.imports

    @property
    def rest_method(self) -> str | None:
        """The method of the commands after the head (all of the streamed step), if any."""
        if isinstance(self._rest, _ImportRest):
            return IMPORT_METHOD
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

    def import_keys(self) -> frozenset[str]:
        """The key of every ``crm.item.batchImport`` command of the run (made or not)."""
        if isinstance(self._rest, _ImportRest):
            return frozenset(self._rest.command_keys(self.commands))
        return frozenset(self.head.imports)

    def unpacking(self, unpack: Callable[[Plan], Plan]) -> None:
        """Send what ``unpack`` makes of the head, now, and of each batch ``rest`` makes, as it is
        made (a plan of that batch alone, with its records in ``imports``): a resumed import takes
        the records an earlier run settled out of their commands (``run.importing.unpack``)."""
        self.head = unpack(self.head)
        self.imports.clear()
        self.imports.update(self.head.imports)
        if isinstance(self._rest, _ImportRest):
            template = self.head

            def each(batch: Batch, records: dict[str, tuple[Imported, ...]]) -> Plan:
                return unpack(template.model_copy(update={"batches": (batch,), "imports": records}))

            self._rest.unpack = each


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


def streamed_step(pipeline: Pipeline, imports: bool = True) -> Step | None:
    """The step ``stream_plan`` can plan a window at a time, if the pipeline has one; a ``mode:
    import`` step only with ``imports``."""
    streamed = [s for s in pipeline.steps if isinstance(s.expansion.instances, StreamedInstances)]
    if len(streamed) != 1 or streamed[0] is not pipeline.steps[-1]:
        return None
    step = streamed[0]
    found = step.expansion.instances.scan  # type: ignore[union-attr]
    if not (found.uniform and found.stems_unique) or step.spec.depends_on:
        return None
    others = pipeline.steps[:-1]
    if imports and not others and step.spec.mode == "import" and step.spec.upsert is None:
        entity = step.spec.params.get("entityTypeId") if isinstance(step.spec.params, dict) else None
        constant = type(entity) is int or (isinstance(entity, str) and "{" not in entity)
        return step if constant and not found.numbered and not found.links else None
    if any(s.spec.upsert is not None or s.spec.mode is not None for s in pipeline.steps):
        return None
    # a key of another step that starts like the streamed step's keys could collide with one of them
    prefix = f"{step.spec.id}_"
    if any(s.spec.id.startswith(prefix) for s in others):
        return None
    return step


IMPORT_WINDOW_BATCHES = 20
"""Batches a window of a streamed import holds at least: twice the requests ever in flight at once
(``run.executor.MAX_PARALLEL``), so the end of a window, which waits for all of its requests, does not
hold back a run whose import requests go out side by side (a window of 5,000 records is 6 requests)."""


def stream_plan(
    pipeline: Pipeline, window: int, imports: bool = True, least: int = IMPORT_WINDOW_BATCHES
) -> StreamedPlan | None:
    """The plan of ``pipeline`` as a head and lazily made batches, or ``None`` when it must be whole.

    The head holds at least ``window`` instances of the streamed step. A ``mode: import`` step is
    streamed only with ``imports``, its head at least ``least`` batches.
    """
    step = streamed_step(pipeline, imports)
    if step is None:
        return None
    if step.spec.mode == "import":
        return _stream_imports(pipeline, step, window, least)
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
        size = self.pipeline.spec.defaults.batch_size
        yield from _placeholders(self, size, self.step.spec.method, self.depends_on)


def _stream_imports(pipeline: Pipeline, step: Step, window: int, least: int) -> StreamedPlan:
    """A lone ``mode: import`` step: the head is the plan of its first records, in whole batches of
    ``crm.item.batchImport`` commands; ``_ImportRest`` packs the rest exactly as the whole plan does."""
    per_batch = imports_per_batch(pipeline.spec.defaults.batch_size)
    records = MAX_IMPORT * per_batch
    """Records of a full batch."""
    total = len(step.expansion.instances)
    instances = iter(step.expansion.instances)
    taken = list(islice(instances, max(-(-max(window, 1) // records), least) * records))
    rendered = replace(step, expansion=Expansion(tuple(taken), frozenset()))
    head_pipeline = replace(pipeline, steps=(rendered,))
    head = lower_imports(planned(head_pipeline)[0], head_pipeline)
    if len(taken) == total:
        return StreamedPlan(head, _count(head), len(head.batches), frozenset(), entries=total)
    commands = -(-total // MAX_IMPORT)
    batches = -(-commands // per_batch)
    rest = _ImportRest(pipeline, step, instances, len(taken), len(head.batches), per_batch)
    return StreamedPlan(head, commands, batches, frozenset(), rest, entries=total)


class _ImportRest:
    """The batches of a lone ``mode: import`` step after the head: its next records, ``MAX_IMPORT``
    to a ``crm.item.batchImport`` command, ``per_batch`` commands to a batch, keyed and encoded by
    ``planning.importing`` as the whole plan's are (``import_command``)."""

    def __init__(
        self,
        pipeline: Pipeline,
        step: Step,
        instances: Iterator[Instance],
        position: int,
        index: int,
        per_batch: int,
    ) -> None:
        self.pipeline, self.step, self.instances = pipeline, step, instances
        self.position, self.index = position, index
        """The next record's position in the step, and the next batch's index."""
        self.per_batch = per_batch
        self.imports: dict[str, tuple[Imported, ...]] = {}
        """Where the records of each batch made go (``StreamedPlan.imports``)."""
        self.unpack: Callable[[Batch, dict[str, tuple[Imported, ...]]], Plan] | None = None
        """What a resumed run sends of each batch instead (``StreamedPlan.unpacking``)."""

    def _key(self, instance: Instance, position: int) -> str:
        # the key the record has as a crm.item.add of its own (planning.keys: stems are distinct)
        return f"{self.step.spec.id}_{key_stem(instance.name or str(position), position)}"

    def _command(self, position: int) -> str:
        # planning.importing numbers them from 0 in order; no record's key reads like one (Scan.numbered)
        return f"{self.step.spec.id}_import{position // MAX_IMPORT}"

    def command_keys(self, commands: int) -> Iterator[str]:
        """The keys of the first ``commands`` import commands of the step."""
        return (self._command(number * MAX_IMPORT) for number in range(commands))

    def batches(self) -> Iterator[Batch]:
        per_batch = self.per_batch * MAX_IMPORT
        problems: list[Problem] = []
        importing = {self.step.spec.id: self.step.index}
        while True:
            chunk = list(islice(self.instances, per_batch))
            if not chunk:
                return
            records = []
            for offset, instance in enumerate(chunk):
                position = self.position + offset
                key = self._key(instance, position)
                node = Node(0, self.step, instance, key, self.step.spec.method, None)
                node.batch = self.index
                command, _ = build_command(node, [node], {}, self.pipeline, problems)
                check_imported([command], importing, self.pipeline, problems)
                records.append(command)
            commands = []
            try:
                for start in range(0, len(records), MAX_IMPORT):
                    group = records[start : start + MAX_IMPORT]
                    key = self._command(self.position + start)
                    commands.append(import_command(key, group))
            except EncodingError as error:
                where = ("steps", self.step.index, "params")
                problems.append(self.pipeline.problem(where, str(error), code="encoding"))
            if problems:  # a record the first read could render but not send: nothing of this batch goes
                raise StreamStopped(f"{PipelineError(problems)}; nothing from {records[0].key} on was sent")
            made: dict[str, tuple[Imported, ...]] = {}
            for start, command in zip(range(0, len(records), MAX_IMPORT), commands, strict=True):
                group = records[start : start + MAX_IMPORT]
                made[command.key] = tuple(Imported(key=c.key, instance=c.instance) for c in group)
            batch = built(Batch, {"index": self.index, "halt": False, "commands": tuple(commands)})
            if self.unpack is not None:
                unpacked = self.unpack(batch, made)
                batch, made = unpacked.batches[0], unpacked.imports
            self.imports.update(made)
            self.position, self.index = self.position + len(chunk), self.index + 1  # before the yield:
            yield batch  # a stopped run goes on from here with ``unsent``

    def unsent(self) -> Iterator[Batch]:
        """The records ``batches`` has not made, a command each with the record's key: the report
        gives a record of an import command never sent an entry of its own, in the batch it would
        have been sent in."""
        yield from _placeholders(self, self.per_batch * MAX_IMPORT, IMPORT_METHOD, ())


def _placeholders(
    rest: _Rest | _ImportRest, size: int, method: str, depends_on: tuple[str, ...]
) -> Iterator[Batch]:
    """The commands ``rest`` has not made, ``size`` to a batch, with only what a report entry of a
    command never sent needs (key, step, instance, method, what it waits for), made from the names of
    the instances alone; ``rest``'s position and batch index move on with them."""
    streamed = rest.step.expansion.instances
    assert isinstance(streamed, StreamedInstances)
    names = islice(streamed.names(), rest.position, None)
    step = rest.step.spec.id
    while True:
        chunk = list(islice(names, size))
        if not chunk:
            return
        commands = tuple(
            built(
                Command,
                {
                    "key": rest._key(instance, rest.position + offset),
                    "step": step,
                    "instance": instance.name,
                    "method": method,
                    "params": {},
                    "query": "",
                    "links": (),
                    "depends_on": depends_on,
                    "secrets": (),
                    "action": "call",
                    "record_id": None,
                    "diff": {},
                },
            )
            for offset, instance in enumerate(chunk)
        )
        batch = built(Batch, {"index": rest.index, "halt": False, "commands": commands})
        rest.position, rest.index = rest.position + len(chunk), rest.index + 1
        yield batch
