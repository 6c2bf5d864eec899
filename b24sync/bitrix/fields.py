"""Which methods write which entity's fields, and how the portal describes those fields (protocol §9.9).

``crm.item.add/update`` write ``crm.item.fields`` (camelCase names, ``upperName`` beside them), the
old ``crm.<entity>.add/update`` write ``crm.<entity>.fields`` (UPPER names, multifields as
``PHONE``, ``EMAIL``, ...), ``tasks.task.add/update`` write ``tasks.task.getFields``. Stage lists
are ``crm.status.list`` entities: ``DEAL_STAGE`` for the deals' first pipeline, ``DEAL_STAGE_<n>``
for the others, ``DYNAMIC_<type>_STAGE_<category>`` for smart processes.
"""

from __future__ import annotations

import re
from typing import Final

from b24sync.bitrix.methods import ENTITY_TYPES

ITEM_WRITES: Final = frozenset({"crm.item.add", "crm.item.update"})
LEGACY_WRITES: Final = {f"crm.{name}.{verb}": name for name in ENTITY_TYPES for verb in ("add", "update")}
TASK_WRITES: Final = frozenset({"tasks.task.add", "tasks.task.update"})

ITEM_FIELDS_METHOD: Final = "crm.item.fields"
TASK_FIELDS_METHOD: Final = "tasks.task.getFields"
CATEGORY_LIST_METHOD: Final = "crm.category.list"
STATUS_LIST_METHOD: Final = "crm.status.list"

LEGACY_MULTIFIELDS: Final = frozenset({"PHONE", "EMAIL", "WEB", "IM", "LINK"})
"""protocol §9.5: the old methods write multifields under these keys (``*.fields`` lists them)."""

DEFAULTED: Final = {"tasks.task": frozenset({"CREATED_BY"})}
"""Fields a ``*.fields`` answer calls required that the portal fills in itself (the caller)."""

FIRST_SMART_PROCESS: Final = 128


def legacy_fields_method(entity: str) -> str:
    """``crm.contact.fields`` for ``contact``."""
    return f"crm.{entity}.fields"


def has_categories(entity_type_id: int) -> bool:
    """Whether an entity type has pipelines (categories), each with its own stages."""
    return entity_type_id == ENTITY_TYPES["deal"] or entity_type_id >= FIRST_SMART_PROCESS


def stage_entity(entity_type_id: int, category_id: int) -> str:
    """The crm.status.list ENTITY_ID of the stages of one pipeline."""
    if entity_type_id == ENTITY_TYPES["deal"]:
        return "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
    return f"DYNAMIC_{entity_type_id}_STAGE_{category_id}"


_NUMBERED = re.compile(r"\A(DEAL_STAGE|DYNAMIC_\d+_STAGE)(_\d+)?\Z")


def status_family(status_type: str) -> str:
    """The stage lists a ``statusType`` belongs to: every pipeline of that entity shares a prefix
    (``DEAL_STAGE`` and ``DEAL_STAGE_2``; ``DYNAMIC_128_STAGE_1`` and ``_STAGE_7``)."""
    found = _NUMBERED.match(status_type)
    return found.group(1) if found else status_type
