"""``tasks.task.add/update/get/list/delete`` (protocol §9.7): UPPER input, camelCase output, string ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import dates
from ..store import Store
from ..tables import Record
from . import lists
from .base import Context, Handler, MethodError, Reply
from .params import as_list, as_map, param, start_of, to_int


@dataclass(frozen=True)
class TaskField:
    """A task field: input (UPPER) and output (camelCase) names and its kind."""

    upper: str
    camel: str
    kind: str  # text, int, date, ids, bindings
    writable: bool = True


_FIELDS = (
    TaskField("ID", "id", "int", writable=False),
    TaskField("TITLE", "title", "text"),
    TaskField("DESCRIPTION", "description", "text"),
    TaskField("PRIORITY", "priority", "int"),
    TaskField("STATUS", "status", "int"),
    TaskField("GROUP_ID", "groupId", "int"),
    TaskField("CREATED_BY", "createdBy", "int"),
    TaskField("RESPONSIBLE_ID", "responsibleId", "int"),
    TaskField("CHANGED_BY", "changedBy", "int", writable=False),
    TaskField("CREATED_DATE", "createdDate", "date", writable=False),
    TaskField("CHANGED_DATE", "changedDate", "date", writable=False),
    TaskField("CLOSED_DATE", "closedDate", "date", writable=False),
    TaskField("DEADLINE", "deadline", "date"),
    TaskField("START_DATE_PLAN", "startDatePlan", "date"),
    TaskField("END_DATE_PLAN", "endDatePlan", "date"),
    TaskField("AUDITORS", "auditors", "ids"),
    TaskField("ACCOMPLICES", "accomplices", "ids"),
    TaskField("UF_CRM_TASK", "ufCrmTask", "bindings"),
)
_BY_NAME = {**{f.upper: f for f in _FIELDS}, **{f.camel.upper(): f for f in _FIELDS}}
_ALIASES = {"REAL_STATUS": "STATUS"}
_STATUS_COMPLETED = 5


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _field(name: str) -> TaskField | None:
    upper = name.upper()
    return _BY_NAME.get(_ALIASES.get(upper, upper))


def _coerce(store: Store, spec: TaskField, raw: Any) -> Any:
    if spec.kind in ("ids", "bindings"):
        items = as_list(raw)
        items = items if items is not None else ([] if raw in (None, "") else [raw])
        if spec.kind == "bindings":
            return [str(item) for item in items if str(item)]
        numbers = [to_int(item) for item in items if item not in ("", None)]
        return [number for number in numbers if number is not None]
    if raw is None or raw == "":
        return None if spec.kind == "date" else ("" if spec.kind == "text" else 0)
    if spec.kind == "int":
        number = to_int(raw)
        if number is None:
            raise ValueError(spec.upper)
        return number
    if spec.kind == "date":
        moment = dates.parse_datetime(str(raw), store.zone)
        if moment is None:
            raise ValueError(spec.upper)
        return dates.format_datetime(moment, store.zone)
    return str(raw)


def _values(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    mapping = as_map(param(params, "fields"))
    if not mapping:
        raise MethodError("100", "Could not find value for parameter {fields}")
    values: dict[str, Any] = {}
    for key, raw in mapping.items():
        spec = _field(key)
        if spec is None or not spec.writable:
            continue
        try:
            values[spec.camel] = _coerce(store, spec, raw)
        except ValueError:
            raise MethodError("ERROR_CORE", f"Wrong value of field {spec.upper}<br>") from None
    return values


def _check(store: Store, task: dict[str, Any]) -> None:
    # protocol §9.7: the texts end in a literal <br>
    if not task.get("title"):
        raise MethodError("ERROR_CORE", "Task title is not specified<br>")
    if not task.get("responsibleId"):
        raise MethodError("ERROR_CORE", "Responsible person is not specified<br>")
    if task["responsibleId"] not in store.users:
        raise MethodError("ERROR_CORE", "Responsible person not found<br>")


def _person(store: Store, user_id: int) -> dict[str, Any]:
    user = store.users.get(user_id, {})
    name = " ".join(part for part in (user.get("NAME"), user.get("LAST_NAME")) if part)
    return {
        "id": str(user_id),
        "name": name,
        "link": f"/company/personal/user/{user_id}/",
        "workPosition": user.get("WORK_POSITION", ""),
    }


def render(store: Store, task: dict[str, Any], names: set[str] | None, bindings: bool) -> dict[str, Any]:
    """A stored task as tasks.task.* return it; ``ufCrmTask`` only when ``bindings``."""
    out: dict[str, Any] = {}
    for spec in _FIELDS:
        if spec.kind == "bindings" or (names is not None and spec.camel not in names and spec.camel != "id"):
            continue
        value = task.get(spec.camel)
        if spec.kind == "int":
            out[spec.camel] = None if value is None else str(value)
        elif spec.kind == "ids":
            out[spec.camel] = [str(item) for item in value or []]
        else:
            out[spec.camel] = value
        if spec.camel == "status":
            out["subStatus"] = out["status"]
    if names is None or "createdBy" in names:
        out["creator"] = _person(store, task["createdBy"])
    if names is None or "responsibleId" in names:
        out["responsible"] = _person(store, task["responsibleId"])
    if bindings:
        # protocol U17: a recorded portal answers false, not [], when there are no bindings
        out["ufCrmTask"] = list(task["ufCrmTask"]) or False
    return out


def _select(raw: Any) -> tuple[set[str] | None, bool]:
    names = as_list(raw) if raw not in (None, "") else None
    if names is None:
        return (None, False) if raw in (None, "") else _select([raw])
    specs = [_field(str(name)) for name in names]
    chosen = {spec.camel for spec in specs if spec is not None}
    every = "*" in [str(name) for name in names]
    return (None if every else chosen), "ufCrmTask" in chosen


def _task(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    task_id = to_int(param(params, "taskId", "id"))
    if task_id is None:
        raise MethodError("100", "Could not find value for parameter {taskId}")
    task = store.task_table.get(task_id)
    if task is None:
        raise MethodError("ERROR_CORE", "Task not found")
    return task


def task_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """tasks.task.add -> ``{"task": {...}}``."""
    store = _store(ctx)
    values = _values(store, params)
    stamp = store.iso(ctx.now())
    task: dict[str, Any] = Record(
        {
            "id": 0,
            "title": "",
            "description": "",
            "priority": 1,
            "status": 2,
            "groupId": 0,
            "createdBy": ctx.user_id,
            "responsibleId": None,
            "changedBy": ctx.user_id,
            "createdDate": stamp,
            "changedDate": stamp,
            "closedDate": None,
            "deadline": None,
            "startDatePlan": None,
            "endDatePlan": None,
            "auditors": [],
            "accomplices": [],
            "ufCrmTask": [],
        }
    )
    task.update(values)
    _check(store, task)
    task["id"] = store.next_id("task")
    store.task_table[task["id"]] = task
    return Reply({"task": render(store, task, None, bindings=True)})


def task_update(ctx: Context, params: dict[str, Any]) -> Reply:
    """tasks.task.update -> ``{"task": {...}}`` after the change."""
    store = _store(ctx)
    task = _task(store, params)
    changed = {**task, **_values(store, params)}
    _check(store, changed)
    stamp = store.iso(ctx.now())
    if changed["status"] == _STATUS_COMPLETED and task["status"] != _STATUS_COMPLETED:
        changed["closedDate"] = stamp
    task.update(changed, changedDate=stamp, changedBy=ctx.user_id)
    return Reply({"task": render(store, task, None, bindings=True)})


def task_get(ctx: Context, params: dict[str, Any]) -> Reply:
    """tasks.task.get -> ``{"task": {...}}``; ``select`` names fields, UF_CRM_TASK included."""
    store = _store(ctx)
    names, bindings = _select(param(params, "select"))
    return Reply({"task": render(store, _task(store, params), names, bindings)})


def task_delete(ctx: Context, params: dict[str, Any]) -> Reply:
    """tasks.task.delete -> ``{"task": true}``."""
    store = _store(ctx)
    del store.task_table[_task(store, params)["id"]]
    return Reply({"task": True})


def _resolve(store: Store) -> lists.Resolver:
    def resolve(name: str) -> tuple[str, lists.Coerce] | None:
        spec = _field(name)
        if spec is None:
            return None
        return spec.camel, lambda raw: _filter_value(store, spec, raw)

    return resolve


def _filter_value(store: Store, spec: TaskField, raw: Any) -> Any:
    if raw in ("", None):
        return None
    if spec.kind == "bindings":
        return str(raw)
    if spec.kind == "ids":
        return _coerce(store, TaskField(spec.upper, spec.camel, "int"), raw)
    return _coerce(store, spec, raw)


def task_list(ctx: Context, params: dict[str, Any]) -> Reply:
    """tasks.task.list -> ``{"tasks": [...]}`` with total/next, default order ID descending."""
    store = _store(ctx)
    resolve = _resolve(store)
    where = lists.parse_filter(param(params, "filter"), resolve, strict=False)
    raw_order = param(params, "order")
    # protocol §9.7: ID descending unless told otherwise
    order = [("id", True)]
    if raw_order not in (None, ""):
        order = lists.parse_order(raw_order, resolve, strict=False)
    for name in as_map(raw_order) or {}:
        if resolve(name) is None:
            raise MethodError("0", "Invalid sorting key (internal error)")
    names, bindings = _select(param(params, "select"))
    # protocol §9.7: TITLE is matched as a pattern, so a % in its value is a wildcard
    where = lists.Group(
        where.logic,
        tuple(
            lists.Condition(term.field, "=%", term.value)
            if isinstance(term, lists.Condition)
            and term.field == "title"
            and term.op == "="
            and "%" in str(term.value)
            else term
            for term in where.terms
        ),
    )
    page = lists.select_page(
        store.task_table, where, order, start_of(params), "exact", lists.field_value, "id"
    )
    return Reply(
        {"tasks": [render(store, task, names, bindings) for task in page.rows]},
        total=page.total,
        next=page.next,
    )


# protocol §9.7: tasks.task.getFields types and the enumerations of priority and status
_KIND_TYPES = {"text": "string", "int": "integer", "date": "datetime", "ids": "array", "bindings": "crm"}
_ENUMS = {
    "PRIORITY": {"2": "High", "1": "Medium", "0": "Low"},
    "STATUS": {
        "2": "Pending",
        "3": "In progress",
        "4": "Supposedly completed",
        "5": "Completed",
        "6": "Deferred",
    },
}


def task_get_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """tasks.task.getFields -> ``{"fields": {UPPER: {title, type, ...}}}``."""
    fields: dict[str, Any] = {}
    for spec in _FIELDS:
        entry: dict[str, Any] = {"title": spec.camel, "type": _KIND_TYPES[spec.kind]}
        if spec.upper == "ID":
            entry["primary"] = True
        if spec.upper in ("TITLE", "RESPONSIBLE_ID", "CREATED_BY"):
            entry["required"] = True
        if spec.upper in _ENUMS:
            entry.update(type="enum", values=dict(_ENUMS[spec.upper]))
        fields[spec.upper] = entry
    return Reply({"fields": fields})


HANDLERS: dict[str, Handler] = {
    "tasks.task.getFields": task_get_fields,
    "tasks.task.add": task_add,
    "tasks.task.update": task_update,
    "tasks.task.get": task_get,
    "tasks.task.list": task_list,
    "tasks.task.delete": task_delete,
}
