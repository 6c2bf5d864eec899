"""``mode: import`` steps lowered into ``crm.item.batchImport`` commands (protocol §9.8b). Pure.

A ``mode: import`` step is planned like any ``crm.item.add`` step first, one command per instance;
this module then packs its instances (of an upsert step: the ones it creates), 20 at a time (the
documented maximum), into one ``crm.item.batchImport`` command each, at most
``MAX_IMPORTS_PER_REQUEST`` such commands a request (840 records), so that one request stays inside
the 60 s a cloud request may take (protocol §7.3). The instances are recorded in the plan
(``Plan.imports``, by command key, in the order of ``data``), so the executor can give each its own
outcome (``b24sync.run.importing``). An upsert's import commands keep the action ``create``.

Links into an imported instance are resolved by b24sync, never by the portal: ``$result[...]``
into a list element silently falls back to the deepest existing node when the element failed
(protocol §4.3 rule 2). So a link ``steps.contact[k].item.id`` becomes a client link to
``[items][i][item][id]`` of the command that carries instance ``k``, and its command goes in a
later request than that one. An import step takes no links and no ``depends_on`` of its own, so its
commands go first; the rest of the plan keeps its order and is packed again, 50 to a batch, a
command starting a new batch when one of its links must be resolved from an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import JsonValue

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.client.encoding import EncodingError, encode_command
from b24sync.errors import PipelineError, Problem
from b24sync.pipeline.loader import Pipeline
from b24sync.planning.model import Batch, Command, Imported, Link, Plan

IMPORT_METHOD = "crm.item.batchImport"
MAX_IMPORT = 20
"""protocol §9.8b: at most 20 records per ``crm.item.batchImport``."""
MAX_IMPORTS_PER_REQUEST = 42
"""Import commands in one request: a cloud portal spends about 65 ms on an imported record (the
emulator's cloud figure, docs/emulator.md), so 42 x 20 records is about 55 s of server time, inside the
60 s one cloud request may take (protocol §7.3); 50 such commands would be 65 s."""
_PARAMS = frozenset({"entityTypeId", "fields"})
_LINKABLE = (("item", "id"), ("item",))
"""What a ``crm.item.batchImport`` element answers: ``{"item": {"id": N}}`` and nothing more."""


def lower_imports(plan: Plan, pipeline: Pipeline) -> Plan:
    """The plan with the instances of every ``mode: import`` step packed into ``crm.item.batchImport``."""
    importing = {step.spec.id: step.index for step in pipeline.steps if step.spec.mode == "import"}
    if not importing:
        return plan
    commands = plan.commands()
    problems: list[Problem] = []
    # of an upsert step only the creates are imported; its updates and deletes stay as they are
    imported = [c for c in commands if c.step in importing and c.action in ("call", "create")]
    rest = [c for c in commands if not (c.step in importing and c.action in ("call", "create"))]
    check_imported(imported, importing, pipeline, problems)
    groups, place, records = _groups(imported, {c.key for c in commands}, problems, importing, pipeline)
    index_of = {step.spec.id: step.index for step in pipeline.steps}
    rewritten = [_relinked(c, place, pipeline, index_of, problems) for c in rest]
    if problems:
        raise PipelineError(sorted(set(problems), key=lambda p: (p.line, p.col, p.message)))
    batches = _pack([*groups, *rewritten], plan.batch_size)
    return plan.model_copy(update={"batches": tuple(batches), "imports": records})


def check_imported(
    imported: Sequence[Command], importing: dict[str, int], pipeline: Pipeline, problems: list[Problem]
) -> None:
    for command in imported:
        where = ("steps", importing[command.step], "params")
        params = command.params if isinstance(command.params, dict) else {}
        if command.links:
            problems.append(
                pipeline.problem(
                    where, "a mode: import step cannot link to other steps: its records are sent first"
                )
            )
        extra = sorted(set(params) - _PARAMS)
        if extra or not isinstance(params.get("fields"), dict):
            problems.append(
                pipeline.problem(
                    where,
                    "a mode: import step takes entityTypeId and fields only"
                    + (f" (not {', '.join(extra)})" if extra else ""),
                )
            )


def _groups(
    imported: Sequence[Command],
    taken: set[str],
    problems: list[Problem],
    importing: dict[str, int],
    pipeline: Pipeline,
) -> tuple[list[Command], dict[str, tuple[str, int]], dict[str, tuple[Imported, ...]]]:
    """Consecutive instances of one step and entity, 20 a command; where each instance went; each
    command's instances."""
    groups: list[Command] = []
    records: dict[str, tuple[Imported, ...]] = {}
    place: dict[str, tuple[str, int]] = {}
    chunk: list[Command] = []
    counters: dict[str, int] = {}

    def close() -> None:
        if not chunk:
            return
        first = chunk[0]
        number = counters.get(first.step, 0)
        key = f"{first.step}_import{number}"
        while key in taken:  # never the key of a command of the pipeline
            number += 1
            key = f"{first.step}_import{number}"
        counters[first.step] = number + 1
        taken.add(key)
        try:
            command = import_command(key, chunk)
        except EncodingError as error:
            where = ("steps", importing[first.step], "params")
            problems.append(pipeline.problem(where, str(error), code="encoding"))
            command = import_command(key, chunk, encode=False)
        groups.append(command)
        records[key] = tuple(Imported(key=c.key, instance=c.instance) for c in chunk)
        for position, member in enumerate(chunk):
            place[member.key] = (key, position)
        chunk.clear()

    for command in imported:
        if chunk and (
            len(chunk) == MAX_IMPORT
            or chunk[0].step != command.step
            or _params(chunk[0]).get("entityTypeId") != _params(command).get("entityTypeId")
        ):
            close()
        chunk.append(command)
    close()
    return groups, place, records


def import_command(key: str, chunk: Sequence[Command], encode: bool = True) -> Command:
    """The ``crm.item.batchImport`` command ``key`` carrying the records of ``chunk`` (one step, one
    entity, at most ``MAX_IMPORT``), encoded unless ``encode`` is false; raises ``EncodingError``."""
    first = chunk[0]
    params: dict[str, JsonValue] = {
        "entityTypeId": _params(first).get("entityTypeId"),
        "data": [_params(c).get("fields") for c in chunk],
    }
    return Command.model_construct(
        key=key,
        step=first.step,
        instance=None,
        method=IMPORT_METHOD,
        params=params,
        query=encode_command(IMPORT_METHOD, params) if encode else "",
        links=(),
        depends_on=(),
        secrets=tuple(sorted({name for c in chunk for name in c.secrets})),
        # an upsert's creates stay creates: --resume reads their records again instead
        action=first.action,
        record_id=None,
        diff={},
    )


def imports_per_batch(batch_size: int) -> int:
    """How many import commands ``_pack`` puts in a batch of a plan that holds nothing else."""
    return min(batch_size, MAX_BATCH, MAX_IMPORTS_PER_REQUEST)


def _params(command: Command) -> dict[str, JsonValue]:
    return command.params if isinstance(command.params, dict) else {}


def _relinked(
    command: Command,
    place: dict[str, tuple[str, int]],
    pipeline: Pipeline,
    index_of: dict[str, int],
    problems: list[Problem],
) -> Command:
    """A command whose links into imported instances read the ``crm.item.batchImport`` answer."""
    if not any(link.target in place for link in command.links) and not any(
        d in place for d in command.depends_on
    ):
        return command
    links: list[Link] = []
    for link in command.links:
        if link.target not in place:
            links.append(link)
            continue
        if tuple(link.path) not in _LINKABLE:
            problems.append(
                pipeline.problem(
                    ("steps", index_of[command.step], "params"),
                    f"{link.marker}: a mode: import step answers only item.id for each record",
                )
            )
            continue
        key, position = place[link.target]
        links.append(
            Link.model_construct(
                marker=link.marker,
                target=key,
                path=("items", position, *link.path),
                resolution="client",
                reason="the target is a mode: import record: its id is read from the batchImport answer",
            )
        )
    depends_on = tuple(dict.fromkeys(place[d][0] if d in place else d for d in command.depends_on))
    return command.model_copy(update={"links": tuple(links), "depends_on": depends_on})


def _pack(commands: Iterable[Command], batch_size: int) -> list[Batch]:
    """Batches of at most ``batch_size`` in this order; a client link's target is always in an earlier one."""
    size = min(batch_size, MAX_BATCH)
    batches: list[list[Command]] = [[]]
    current: set[str] = set()
    imports = 0
    for command in commands:
        needs_earlier = any(link.resolution == "client" and link.target in current for link in command.links)
        importing = command.method == IMPORT_METHOD
        if len(batches[-1]) == size or needs_earlier or (importing and imports == MAX_IMPORTS_PER_REQUEST):
            batches.append([])
            current = set()
            imports = 0
        batches[-1].append(command)
        current.add(command.key)
        imports += importing
    packed: list[Batch] = []
    for index, members in enumerate(b for b in batches if b):
        keys = {c.key for c in members}
        halt = any(link.target in keys for c in members for link in c.links) or any(
            d in keys for c in members for d in c.depends_on
        )
        packed.append(
            Batch.model_construct(
                index=index, halt=halt, commands=tuple(_resolution(c, keys) for c in members)
            )
        )
    return packed


def _resolution(command: Command, same_batch: set[str]) -> Command:
    """A server link whose target now runs in an earlier batch is resolved by b24sync from then on."""
    if all(link.resolution == "client" or link.target in same_batch for link in command.links):
        return command
    links = tuple(
        link
        if link.resolution == "client" or link.target in same_batch
        else link.model_copy(update={"resolution": "client", "reason": "the target runs in an earlier batch"})
        for link in command.links
    )
    return command.model_copy(update={"links": links})
