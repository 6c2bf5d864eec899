"""The portal's field contract as data: every field of the entities a pipeline writes, and the
status lists their stage and reference fields take values from.

A ``FieldSnapshot`` is read from a portal (``b24sync.fields.read``) or from a snapshot file
(``b24sync.fields.snapshot``); ``b24sync.fields.check`` compares a pipeline with it. Entities are
keyed by how they are written: ``crm.item:3`` (camelCase names, protocol §9.2), ``crm.contact``
(the old methods' UPPER names, §9.3) and ``tasks.task`` (§9.7).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from b24sync.bitrix.methods import ENTITY_TYPES
from b24sync.pipeline.models import Frozen

SNAPSHOT_VERSION: Literal[1] = 1
Names = Literal["camel", "upper"]


class FieldInfo(Frozen):
    """One field as the portal describes it (``*.fields``, protocol §9.9)."""

    type: str
    title: str = ""
    required: bool = False
    read_only: bool = False
    immutable: bool = False
    multiple: bool = False
    upper: str | None = Field(None, description="crm.item's upperName, the old methods' name.")
    status_type: str | None = Field(None, description="crm.status.list ENTITY_ID of its values.")
    options: dict[str, str] = Field(
        default_factory=dict, description="Enumeration values: the id to send, and its label."
    )


class EntityFields(Frozen):
    """The fields of one entity, as one family of methods names them."""

    title: str
    names: Names
    fields: dict[str, FieldInfo]
    categories: tuple[int, ...] = Field(
        (), description="Pipelines (categories) of deals and smart processes."
    )


class StatusEntry(Frozen):
    """One value of a status list: what to send, and its name."""

    id: str
    name: str = ""


class FieldSnapshot(Frozen):
    """The fields of every entity a set of pipelines writes, and their status lists."""

    version: Literal[1] = SNAPSHOT_VERSION
    entities: dict[str, EntityFields] = Field(default_factory=dict)
    statuses: dict[str, tuple[StatusEntry, ...]] = Field(default_factory=dict)
    absent: tuple[str, ...] = Field((), description="Entities the portal does not have.")
    unread: tuple[str, ...] = Field(
        (), exclude=True, description="Entities the portal refused to describe (never saved)."
    )


def entity_title(entity_type_id: int) -> str:
    """How messages name a crm.item entity type: ``contact (crm.item)``, ``smart process 128``."""
    names = {type_id: name for name, type_id in ENTITY_TYPES.items()}
    if entity_type_id in names:
        return f"{names[entity_type_id]} (crm.item)"
    return f"entity type {entity_type_id} (crm.item)"


def item_entity(entity_type_id: int) -> str:
    """The key of a crm.item entity type: ``crm.item:3``."""
    return f"crm.item:{entity_type_id}"


def legacy_entity(name: str) -> str:
    """The key of an entity of the old CRM methods: ``crm.contact``."""
    return f"crm.{name}"


TASK_ENTITY = "tasks.task"
