"""Checks of upsert steps beyond their shape: communication keys in ``match`` and the ``fm`` entries.

``match: {email: ...}`` and ``match: {phone: ...}`` are found with ``crm.duplicate.findbycomm``,
which searches leads, contacts and companies only (protocol §9.6). ``fm`` in ``fields`` is a list of
communications that must be present (protocol §9.5): each entry needs a ``typeId`` and a value known
before apply, since b24sync compares it with what the record holds; an entry with an empty value asks
for nothing (a data row without a phone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from b24sync.bitrix.comms import FIND_ENTITIES, FM_TYPES, MATCH_KEYS
from b24sync.errors import Problem
from b24sync.pipeline.instances import Instance
from b24sync.pipeline.models import StepSpec
from b24sync.pipeline.template import Text
from b24sync.pipeline.yamlio import Path, YamlDocument

FM = "fm"


def upsert_problems(
    index: int, step: StepSpec, instances: Iterable[Instance], document: YamlDocument
) -> list[Problem]:
    """Problems of one upsert step: communication keys on entities findbycomm cannot search, and
    ``fm`` entries b24sync cannot compare, each reported once with the rows that have it."""
    upsert = step.upsert
    if upsert is None:
        return []
    base: Path = ("steps", index, "upsert")
    problems: list[Problem] = []
    for name in sorted(set(upsert.match) & set(MATCH_KEYS)):
        if upsert.entity_type_id not in FIND_ENTITIES:
            problems.append(
                document.problem(
                    (*base, "match", name),
                    f"match by {name} finds leads, contacts and companies only "
                    "(crm.duplicate.findbycomm searches no other entity): match on a field instead",
                    key=True,
                )
            )
    comms = sorted(set(upsert.match) & set(MATCH_KEYS))
    if comms and step.delete_missing:
        problems.append(
            document.problem(
                ("steps", index, "delete_missing"),
                f"delete_missing tells this source's records apart by fields; a match on {comms[0]} "
                "cannot: match on originatorId and originId instead",
            )
        )
    if upsert.fm_mode == "replace" and FM not in upsert.fields:
        problems.append(
            document.problem(
                (*base, "fm_mode"), "fm_mode replaces the entries of fields.fm: add fm to fields"
            )
        )
    if FM not in upsert.fields:
        return problems
    seen: dict[tuple[Path, str], list[str]] = {}
    for instance in instances:
        params: Any = instance.params
        for path, message in _fm_problems(params["fields"].get(FM)):
            seen.setdefault(((*base, "fields", FM, *path), message), []).append(instance.origin)
    for (path, message), origins in seen.items():
        more = f" and {len(origins) - 1} more" if len(origins) > 1 else ""
        suffix = f" (for_each {origins[0]}{more})" if origins[0] else ""
        problems.append(document.problem(path, message + suffix))
    return problems


def _fm_problems(value: object) -> list[tuple[Path, str]]:
    if _unknown(value):
        return [((), "fm must be known before apply: b24sync compares it with the record's entries")]
    if not isinstance(value, list):
        return [((), "fm must be a list of entries such as {typeId: EMAIL, value: ann@example.com}")]
    found: list[tuple[Path, str]] = []
    for position, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            found.append(((position,), "an fm entry is a mapping {typeId, value, valueType}"))
            continue
        unknown = sorted(set(map(str, entry)) - {"typeId", "value", "valueType"})
        if unknown:
            found.append(((position, unknown[0]), f"unknown key {unknown[0]!r} in an fm entry"))
        type_id = entry.get("typeId")
        if not isinstance(type_id, str) or type_id.upper() not in FM_TYPES:
            found.append(((position,), f"an fm entry needs typeId, one of {', '.join(FM_TYPES)}"))
        if isinstance(entry.get("value"), (Mapping, list)):
            found.append(((position, "value"), "the value of an fm entry is text, such as an e-mail"))
        value_type = entry.get("valueType")
        if value_type is not None and not isinstance(value_type, str):
            found.append(((position, "valueType"), "valueType is text such as WORK or HOME"))
    return found


def _unknown(value: object) -> bool:
    if isinstance(value, Text):
        return True
    if isinstance(value, Mapping):
        return any(_unknown(child) for child in value.values())
    if isinstance(value, list):
        return any(_unknown(child) for child in value)
    return False
