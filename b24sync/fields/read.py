"""Reading the field contract from a portal, once per run (I/O through the client).

One batch asks every ``*.fields`` method the pipeline needs (and ``crm.category.list`` for deals
and smart processes); a second asks ``crm.status.list`` for each status list those fields take
values from, every pipeline's stages included. Two requests, whatever the size of the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from b24sync.bitrix.fields import (
    CATEGORY_LIST_METHOD,
    ITEM_FIELDS_METHOD,
    STATUS_LIST_METHOD,
    TASK_FIELDS_METHOD,
    has_categories,
    legacy_fields_method,
    stage_entity,
)
from b24sync.bitrix.limits import MAX_BATCH
from b24sync.client import B24Hook
from b24sync.client.encoding import encode_command
from b24sync.errors import ApiError
from b24sync.fields.model import (
    TASK_ENTITY,
    EntityFields,
    FieldInfo,
    FieldSnapshot,
    StatusEntry,
    entity_title,
)

NOT_FOUND = "NOT_FOUND"


class UnknownEntity(ApiError):
    """The portal has no such entity type (``crm.item.fields`` answered NOT_FOUND)."""


def read_fields(client: B24Hook, entities: Iterable[str], *, strict: bool = True) -> FieldSnapshot:
    """The fields of ``entities`` (keys of ``b24sync.fields.model``) and their status lists.

    A fields method the portal refuses (a missing scope, no access) raises ``ApiError``; without
    ``strict`` that entity is listed in ``unread`` instead, and left unchecked.
    """
    wanted = sorted(set(entities))
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for index, entity in enumerate(wanted):
        calls[f"f{index}"] = _fields_call(entity)
        type_id = _item_type(entity)
        if type_id is not None and has_categories(type_id):
            calls[f"c{index}"] = (CATEGORY_LIST_METHOD, {"entityTypeId": type_id})
    tolerated = {key for key in calls if key.startswith("c") or not strict}
    answers = _send(client, calls, tolerate=tolerated)
    fields: dict[str, EntityFields] = {}
    absent: list[str] = []
    unread: list[str] = []
    for index, entity in enumerate(wanted):
        key = f"f{index}"
        if isinstance(answers[key], UnknownEntity):
            absent.append(entity)
            continue
        if isinstance(answers[key], ApiError):
            unread.append(entity)
            continue
        categories = _categories(answers.get(f"c{index}"))
        fields[entity] = _entity(entity, answers[key], categories)
    lists = sorted(_status_types(fields))
    queries = {
        f"s{index}": (STATUS_LIST_METHOD, {"filter": {"ENTITY_ID": name}, "order": {"SORT": "ASC"}})
        for index, name in enumerate(lists)
    }
    statuses: dict[str, tuple[StatusEntry, ...]] = {}
    for key, rows in _send(client, queries, tolerate=set(queries), pages=True).items():
        name = lists[int(key[1:])]
        if isinstance(rows, list) and rows:
            statuses[name] = tuple(
                StatusEntry(id=str(row.get("STATUS_ID")), name=str(row.get("NAME") or ""))
                for row in rows
                if isinstance(row, Mapping) and row.get("STATUS_ID") is not None
            )
    return FieldSnapshot(
        entities=fields,
        statuses={k: v for k, v in statuses.items() if v},
        absent=tuple(absent),
        unread=tuple(unread),
    )


def _item_type(entity: str) -> int | None:
    prefix = "crm.item:"
    return int(entity[len(prefix) :]) if entity.startswith(prefix) else None


def _fields_call(entity: str) -> tuple[str, dict[str, Any]]:
    type_id = _item_type(entity)
    if type_id is not None:
        return ITEM_FIELDS_METHOD, {"entityTypeId": type_id}
    if entity == TASK_ENTITY:
        return TASK_FIELDS_METHOD, {}
    return legacy_fields_method(entity.split(".", 1)[1]), {}


def _send(
    client: B24Hook,
    calls: Mapping[str, tuple[str, dict[str, Any]]],
    tolerate: set[str],
    pages: bool = False,
) -> dict[str, Any]:
    """Results by key; a failed command in ``tolerate`` gives its ``ApiError`` as its result, any
    other one raises. With ``pages`` a list command is followed to its last page."""
    results: dict[str, Any] = {}
    pending = [(key, method, params) for key, (method, params) in calls.items()]
    while pending:
        chunk, pending = pending[:MAX_BATCH], pending[MAX_BATCH:]
        commands = {key: encode_command(method, params) for key, method, params in chunk}
        methods = {key: method for key, method, _ in chunk}
        reply = client.send_batch(commands, halt=False, methods=methods, safe=True)
        for key, method, params in chunk:
            error = reply.errors.get(key)
            if error is not None:
                failure = (UnknownEntity if error.code == NOT_FOUND else ApiError)(
                    error.code, f"reading the fields ({method}) failed: {error.description}"
                )
                if key not in tolerate and not isinstance(failure, UnknownEntity):
                    raise failure
                results[key] = failure
                continue
            value = reply.results.get(key)
            if pages and isinstance(value, list):
                results[key] = [*results.get(key, []), *value]
                following = reply.nexts.get(key)
                if following is not None:
                    pending.append((key, method, {**params, "start": int(following)}))
            else:
                results[key] = value
    return results


def _categories(answer: Any) -> tuple[int, ...]:
    rows = answer.get("categories") if isinstance(answer, Mapping) else None
    return tuple(int(row["id"]) for row in rows or [] if isinstance(row, Mapping) and "id" in row)


def _entity(entity: str, answer: Any, categories: tuple[int, ...]) -> EntityFields:
    type_id = _item_type(entity)
    if type_id is not None:
        raw = answer.get("fields") if isinstance(answer, Mapping) else None
        return EntityFields(
            title=entity_title(type_id),
            names="camel",
            fields=_described(raw),
            categories=categories,
        )
    if entity == TASK_ENTITY:
        raw = answer.get("fields") if isinstance(answer, Mapping) else None
        return EntityFields(title="tasks.task", names="upper", fields=_task_fields(raw))
    return EntityFields(title=entity, names="upper", fields=_described(answer))


def _described(raw: Any) -> dict[str, FieldInfo]:
    """``crm.item.fields`` and old ``*.fields`` entries (protocol §9.9)."""
    fields: dict[str, FieldInfo] = {}
    for name, entry in (raw or {}).items() if isinstance(raw, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        items = entry.get("items")
        fields[str(name)] = FieldInfo(
            type=str(entry.get("type") or ""),
            title=str(entry.get("formLabel") or entry.get("title") or ""),
            required=entry.get("isRequired") is True,
            read_only=entry.get("isReadOnly") is True,
            immutable=entry.get("isImmutable") is True,
            multiple=entry.get("isMultiple") is True,
            upper=str(entry["upperName"]) if entry.get("upperName") else None,
            status_type=str(entry["statusType"]) if entry.get("statusType") else None,
            options={
                str(item.get("ID")): str(item.get("VALUE") or "")
                for item in items or []
                if isinstance(item, Mapping) and item.get("ID") is not None
            },
        )
    return fields


def _task_fields(raw: Any) -> dict[str, FieldInfo]:
    """``tasks.task.getFields`` entries: ``required``, ``primary``, enum ``values`` (protocol §9.7)."""
    fields: dict[str, FieldInfo] = {}
    for name, entry in (raw or {}).items() if isinstance(raw, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        values = entry.get("values")
        fields[str(name)] = FieldInfo(
            type=str(entry.get("type") or ""),
            title=str(entry.get("title") or ""),
            required=entry.get("required") is True,
            read_only=entry.get("primary") is True,
            options={str(k): str(v) for k, v in values.items()} if isinstance(values, Mapping) else {},
        )
    return fields


def _status_types(entities: Mapping[str, EntityFields]) -> set[str]:
    names: set[str] = set()
    for entity, described in entities.items():
        type_id = _item_type(entity)
        for info in described.fields.values():
            if not info.status_type:
                continue
            names.add(info.status_type)
            staged = info.status_type.startswith(("DEAL_STAGE", "DYNAMIC_"))
            if type_id is not None and staged and described.categories:
                names.update(stage_entity(type_id, category) for category in described.categories)
    return names
