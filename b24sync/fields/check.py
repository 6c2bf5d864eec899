"""A pipeline against the portal's field contract: every problem a portal would hide. Pure.

The portal drops unknown and read-only fields silently (protocol §9.2, §9.3), so a misspelt name is
data lost without a word. Refused here, each at its line: unknown names (with the closest real one,
across the camelCase and UPPER families of §9.2), read-only fields, immutable fields in updates,
required fields missing from creates, and enumeration, stage and reference values that do not exist.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from b24sync.bitrix.fields import DEFAULTED, LEGACY_MULTIFIELDS, status_family
from b24sync.errors import Problem
from b24sync.fields.model import EntityFields, FieldInfo, FieldSnapshot, StatusEntry
from b24sync.fields.targets import Target, Written, targets
from b24sync.pipeline.loader import Pipeline
from b24sync.pipeline.template import Text
from b24sync.pipeline.yamlio import Path

FM = "fm"
HINT = "read the fields again with `b24sync fields --save`, or skip the check with --no-contract"


def check_pipeline(pipeline: Pipeline, snapshot: FieldSnapshot) -> list[Problem]:
    """Every field problem of ``pipeline`` against ``snapshot``, in file order."""
    problems: list[Problem] = []
    for target in targets(pipeline):
        entity = snapshot.entities.get(target.entity)
        if entity is None and target.entity in snapshot.unread:
            continue  # the portal would not describe it: its refusal shows when the run sends
        if entity is None:
            problems.append(_absent(pipeline, target, snapshot))
            continue
        problems += _names(pipeline, target, entity)
        if target.creates:
            problems += _required(pipeline, target, entity)
        problems += _values(pipeline, target, entity, snapshot)
    return sorted(set(problems), key=lambda p: (p.line, p.col, p.message))


def _absent(pipeline: Pipeline, target: Target, snapshot: FieldSnapshot) -> Problem:
    base: Path = ("steps", target.step.index)
    where: Path
    if target.step.spec.upsert is not None:
        upsert = target.step.spec.upsert
        where = (*base, "upsert", "entityTypeId" if upsert.entityTypeId is not None else "entity")
    else:
        where = (*base, "params", "entityTypeId") if target.family == "item" else (*base, "method")
    if target.entity in snapshot.absent:
        what = f"entity type {target.entity_type_id}" if target.entity_type_id else target.entity
        return pipeline.problem(where, f"the portal has no {what} (its fields method answered NOT_FOUND)")
    return pipeline.problem(where, f"the field contract has no fields of {target.entity}: {HINT}")


def lookup(entity: EntityFields, target: Target, name: str) -> FieldInfo | None:
    """The field ``name`` names in this family of methods, or None."""
    if target.family == "task":
        return entity.fields.get(name.upper()) or entity.fields.get(_snake(name))
    return entity.fields.get(name)


def _names(pipeline: Pipeline, target: Target, entity: EntityFields) -> list[Problem]:
    found: list[Problem] = []
    for written in target.written:
        info = lookup(entity, target, written.name)
        if info is None and target.family == "legacy" and written.name in LEGACY_MULTIFIELDS:
            continue
        where = (*written.where, written.name)
        if info is None:
            message = f"unknown field {written.name!r} of {entity.title}"
            close = suggest(written.name, entity, target)
            hint = f" (did you mean {close!r}?)" if close else ""
            found.append(
                pipeline.document.problem(where, f"{message}{hint}: the portal would drop it", key=True)
            )
        elif info.read_only:
            found.append(
                pipeline.document.problem(
                    where, f"{written.name!r} of {entity.title} is read-only: the portal ignores it", key=True
                )
            )
        elif info.immutable and target.updates and not target.creates:
            found.append(
                pipeline.document.problem(
                    where,
                    f"{written.name!r} of {entity.title} is set only when a record is created",
                    key=True,
                )
            )
    return found


def suggest(name: str, entity: EntityFields, target: Target) -> str | None:
    """The real name closest to ``name``: the same letters in the other family (``LAST_NAME`` ->
    ``lastName``, ``lastname`` -> ``lastName``), else the nearest spelling."""
    names = list(entity.fields)
    if target.family == "legacy":
        names += sorted(LEGACY_MULTIFIELDS & set(_multifield_names(entity)))
    folded = {_fold(candidate): candidate for candidate in names}
    for info_name, info in entity.fields.items():
        if info.upper and not info.read_only:
            folded.setdefault(_fold(info.upper), info_name)
    if _fold(name) in folded:
        return folded[_fold(name)]
    close = difflib.get_close_matches(_fold(name), list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def _multifield_names(entity: EntityFields) -> list[str]:
    return [name for name, info in entity.fields.items() if info.type == "crm_multifield"]


def _fold(name: str) -> str:
    return name.replace("_", "").lower()


def _snake(name: str) -> str:
    return "".join(f"_{char}" if char.isupper() else char.upper() for char in name).lstrip("_")


def _required(pipeline: Pipeline, target: Target, entity: EntityFields) -> list[Problem]:
    given = {written.name for written in target.written}
    if target.family == "task":
        given = {name.upper() for name in given} | {_snake(name) for name in given}
    upsert = target.step.spec.upsert
    if upsert is not None and set(upsert.match) - {written.name for written in target.written}:
        given.add(FM)  # the e-mail or phone a record is matched by is written into fm
    if target.family == "legacy" and given & LEGACY_MULTIFIELDS:
        given |= {name for name in entity.fields if entity.fields[name].type == "crm_multifield"}
    skipped = DEFAULTED.get(target.entity, frozenset())
    missing = [
        name
        for name, info in entity.fields.items()
        if info.required and not info.read_only and name not in given and name not in skipped
    ]
    return [
        pipeline.document.problem(
            target.fields_at,
            f"{entity.title} requires {name!r} ({entity.fields[name].title or name}): "
            "creating a record without it fails",
        )
        for name in missing
    ]


def _values(
    pipeline: Pipeline, target: Target, entity: EntityFields, snapshot: FieldSnapshot
) -> list[Problem]:
    seen: dict[tuple[Written, str], list[str]] = {}
    limited: dict[str, Mapping[str, str]] = {}
    for written in target.written:
        info = lookup(entity, target, written.name)
        allowed = None if info is None or info.read_only else _allowed(info, snapshot)
        if allowed is not None:
            limited[written.name] = allowed
    if not limited:
        return []  # no field with a list of values: the instances need not be read (a streamed step)
    for origin, written, section in target.values():
        allowed = limited.get(written.name)
        if allowed is None:
            continue
        for value in _scalars(section[written.name]):
            message = _value_problem(written.name, value, allowed, entity.title)
            if message is not None:
                seen.setdefault((written, message), []).append(origin)
    problems = []
    for (written, message), origins in seen.items():
        more = f" and {len(origins) - 1} more" if len(origins) > 1 else ""
        suffix = f" (for_each {origins[0]}{more})" if origins[0] else ""
        problems.append(pipeline.document.problem((*written.where, written.name), message + suffix))
    return problems


def _allowed(info: FieldInfo, snapshot: FieldSnapshot) -> Mapping[str, str] | None:
    """The values a field takes (id -> label), or None when any value may do."""
    if info.options:
        return info.options
    if not info.status_type:
        return None
    family = status_family(info.status_type)
    lists = [
        entries
        for entity_id, entries in snapshot.statuses.items()
        if entity_id == info.status_type or status_family(entity_id) == family
    ]
    if not lists:
        return None  # the portal has no such list: nothing to compare with
    return {entry.id: entry.name for entry in _flatten(lists)}


def _flatten(lists: Iterable[tuple[StatusEntry, ...]]) -> list[StatusEntry]:
    return [entry for entries in lists for entry in entries]


def _scalars(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [
        str(v) for v in values if v is not None and v != "" and not isinstance(v, (Text, Mapping, list, bool))
    ]


def _value_problem(name: str, value: str, allowed: Mapping[str, str], title: str) -> str | None:
    if value in allowed:
        return None
    labelled = [key for key, label in allowed.items() if label == value]
    if labelled:
        return f"{value!r} is the name of {name} {labelled[0]!r} of {title}: send {labelled[0]!r}"
    close = difflib.get_close_matches(value, list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(list(allowed)[:12]) + (", ..." if len(allowed) > 12 else "")
    return f"{value!r} is not a value of {name} of {title}{hint}; it takes {shown}"
