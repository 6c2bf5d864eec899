"""What a pipeline writes: for each step that creates or updates a record, the entity, the field
names as written and where they sit in the file. Pure.

Upsert steps write ``crm.item`` records (their ``match`` fields too, except ``email`` and ``phone``);
plain steps calling ``crm.item.add/update`` with a literal ``entityTypeId``, the old
``crm.<entity>.add/update`` or ``tasks.task.add/update`` write their ``params.fields``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from b24sync.bitrix.comms import MATCH_KEYS
from b24sync.bitrix.fields import ITEM_WRITES, LEGACY_WRITES, TASK_WRITES
from b24sync.fields.model import TASK_ENTITY, item_entity, legacy_entity
from b24sync.pipeline.loader import Pipeline, Step
from b24sync.pipeline.template import is_template
from b24sync.pipeline.yamlio import Path

Family = Literal["item", "legacy", "task"]


@dataclass(frozen=True)
class Written:
    """One field name as written, and the mapping of the file that holds it."""

    name: str
    where: Path
    """The path of the mapping (``steps[1].upsert.fields``); the name is a key in it."""


@dataclass(frozen=True)
class Target:
    """A step that writes records of one entity."""

    step: Step
    entity: str
    family: Family
    entity_type_id: int | None
    written: tuple[Written, ...]
    creates: bool
    updates: bool
    fields_at: Path

    def values(self) -> Iterator[tuple[str, Written, Mapping[str, Any]]]:
        """(instance origin, written name, the instance's rendered mapping) for every instance.

        A generator: a streamed step's million instances pass through one at a time.
        """
        for instance in self.step.expansion.instances:
            params: Any = instance.params
            for written in self.written:
                section = params.get(written.where[-1]) if self.step.spec.upsert else params.get("fields")
                if isinstance(section, Mapping) and written.name in section:
                    yield instance.origin, written, section


def targets(pipeline: Pipeline) -> list[Target]:
    """Every step of ``pipeline`` that writes records, with the entity it writes."""
    found: list[Target] = []
    for step in pipeline.steps:
        target = _target(step)
        if target is not None:
            found.append(target)
    return found


def _target(step: Step) -> Target | None:
    spec = step.spec
    base: Path = ("steps", step.index)
    if spec.upsert is not None:
        written = [
            Written(name, (*base, "upsert", "match")) for name in spec.upsert.match if name not in MATCH_KEYS
        ]
        written += [Written(name, (*base, "upsert", "fields")) for name in spec.upsert.fields]
        type_id = spec.upsert.entity_type_id
        return Target(
            step,
            item_entity(type_id),
            "item",
            type_id,
            tuple(written),
            True,
            True,
            (*base, "upsert", "fields"),
        )
    method = spec.method.lower()
    fields = spec.params.get("fields")
    if not isinstance(fields, Mapping):
        return None
    at: Path = (*base, "params", "fields")
    written_names = tuple(Written(name, at) for name in fields if not is_template(name))
    creates = method.endswith(".add")
    if method in ITEM_WRITES:
        given = _literal_int(spec.params.get("entityTypeId"))
        if given is None:
            return None
        return Target(step, item_entity(given), "item", given, written_names, creates, not creates, at)
    if method in LEGACY_WRITES:
        name = LEGACY_WRITES[method]
        return Target(step, legacy_entity(name), "legacy", None, written_names, creates, not creates, at)
    if method in TASK_WRITES:
        return Target(step, TASK_ENTITY, "task", None, written_names, creates, not creates, at)
    return None


def _literal_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
