"""The portal's current state for upsert steps: the records each instance matches (I/O via the client).

Reading costs one ``crm.item.list`` command per 50 match values (an ``@`` filter), 50 commands per
request, so the state of 10,000 records takes ``ceil(10000 / 2500)`` requests. A match on ``email``
or ``phone`` first asks ``crm.duplicate.findbycomm`` (20 values a command, protocol §9.6), then reads
the candidates by ``@id``: ``ceil(10000 / 1000) + ceil(10000 / 2500)`` requests for 10,000 e-mails.
With ``delete_missing`` the records carrying the step's fixed match values are listed as well, to
find those absent from the source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from b24sync.bitrix.comms import FIND_ENTITIES, FIND_METHOD, MATCH_KEYS, VALUES_PER_FIND, normalise
from b24sync.bitrix.limits import MAX_BATCH
from b24sync.client import B24Hook
from b24sync.client.encoding import encode_command
from b24sync.errors import ApiError, PipelineError
from b24sync.pipeline import Pipeline, Step
from b24sync.pipeline.template import LinkRef, SecretRef, Text
from b24sync.upsert.decide import (
    FM,
    KEYS_PER_COMMAND,
    Decision,
    Wanted,
    decide,
    match_key,
    record_key,
    scalar_text,
)
from b24sync.upsert.lowering import UpsertState


def read_state(pipeline: Pipeline, client: B24Hook) -> UpsertState:
    """Decide every upsert instance of ``pipeline`` against the portal's records."""
    decisions: dict[tuple[str, str | None], Decision] = {}
    deletes: dict[str, tuple[int, ...]] = {}
    pending = [step for step in pipeline.steps if step.spec.upsert is not None]
    while pending:
        names = {step.spec.id for step in pending}
        # A step whose fields link to another pending upsert step waits for that step's record ids.
        ready = [s for s in pending if not _linked_steps(s) & (names - {s.spec.id})] or pending[:1]
        for step in ready:
            pending.remove(step)
            wanted = _wanted(pipeline, step, decisions)
            upsert = step.spec.upsert
            assert upsert is not None
            found = read_matches(client, upsert.entity_type_id, wanted, select=upsert.fields)
            match_names = sorted(upsert.match)
            for item in wanted:
                decisions[(step.spec.id, item.key or None)] = decide(
                    item, found.get(match_key(item.match, match_names), [])
                )
            if step.spec.delete_missing:
                deletes[step.spec.id] = _missing(pipeline, client, step, wanted)
    return UpsertState(decisions, deletes)


def _linked_steps(step: Step) -> set[str]:
    return {use.ref.step for instance in step.expansion.instances for use in instance.links}


def _wanted(
    pipeline: Pipeline, step: Step, decisions: Mapping[tuple[str, str | None], Decision]
) -> list[Wanted]:
    wanted: list[Wanted] = []
    seen: dict[tuple[str, ...], str | None] = {}
    assert step.spec.upsert is not None
    names = sorted(step.spec.upsert.match)
    for instance in step.expansion.instances:
        params: Any = instance.params
        match = dict(params["match"])
        key = match_key(match, names)
        empty = [name for name, text in zip(names, key, strict=True) if text == ""]
        if empty:
            # An empty external key would match every record that lacks one, and update a stranger.
            what = (
                "a phone without digits"
                if empty[0] == "phone" and match[empty[0]]
                else f"an empty {empty[0]}"
            )
            raise PipelineError(
                [
                    pipeline.problem(
                        ("steps", step.index, "upsert", "match", empty[0]),
                        f"instance {instance.name!r} has {what}: every instance needs a value "
                        "to identify its record (drop such rows with when)",
                        code="upsert-match",
                    )
                ]
            )
        if key in seen:
            record = dict(zip(names, key, strict=True))
            raise PipelineError(
                [
                    pipeline.problem(
                        ("steps", step.index, "upsert", "match"),
                        f"instances {seen[key]!r} and {instance.name!r} match the same record {record}: "
                        "each instance needs its own match values",
                        code="upsert-match",
                    )
                ]
            )
        seen[key] = instance.name
        fields: dict[str, Any] = {}
        linked: set[str] = set()
        for name, value in dict(params["fields"]).items():
            known = _known(value, decisions)
            if known is _UNKNOWN:
                linked.add(name)
                fields[name] = value
            else:
                fields[name] = known
        upsert = step.spec.upsert
        wanted.append(
            Wanted(instance.name or "", match, fields, frozenset(linked), upsert.on_conflict, upsert.fm_mode)
        )
    return wanted


_UNKNOWN: Any = object()


def _known(value: Any, decisions: Mapping[tuple[str, str | None], Decision]) -> Any:
    """A field's value when it can be known before apply; links to existing records are their ids."""
    if isinstance(value, Text):
        parts: list[str] = []
        for part in value.parts:
            if isinstance(part, SecretRef):
                return _UNKNOWN
            if isinstance(part, LinkRef):
                decision = decisions.get((part.step, part.instance))
                if decision is None or decision.record_id is None or part.path != ("id",):
                    return _UNKNOWN
                parts.append(str(decision.record_id))
            else:
                parts.append(part)
        return parts[0] if len(parts) == 1 else "".join(parts)
    if isinstance(value, Mapping):
        items = {k: _known(v, decisions) for k, v in value.items()}
        return _UNKNOWN if any(v is _UNKNOWN for v in items.values()) else items
    if isinstance(value, list):
        values = [_known(v, decisions) for v in value]
        return _UNKNOWN if any(v is _UNKNOWN for v in values) else values
    return value


def _missing(pipeline: Pipeline, client: B24Hook, step: Step, wanted: Sequence[Wanted]) -> tuple[int, ...]:
    """Ids of records with the step's fixed match values that no instance names (``delete_missing``)."""
    upsert = step.spec.upsert
    assert upsert is not None
    names = sorted(upsert.match)
    fixed = {
        name: wanted[0].match[name]
        for name in names
        if wanted and len({scalar_text(w.match[name]) for w in wanted}) == 1
    }
    if not fixed or (len(fixed) == len(names) and len(wanted) > 1):
        raise PipelineError(
            [
                pipeline.problem(
                    ("steps", step.index, "delete_missing"),
                    "delete_missing needs a match value shared by every instance (such as originatorId: "
                    "shop) and one that differs (such as originId), to tell this source's records apart",
                    code="upsert-match",
                )
            ]
        )
    keep = {match_key(w.match, names) for w in wanted}
    # delete_missing is refused with email or phone in match (pipeline.upserts): names are fields here
    params = {
        "entityTypeId": upsert.entity_type_id,
        "filter": {f"={k}": v for k, v in fixed.items()},
        "select": ["id", *names],
    }
    return tuple(
        int(row["id"])
        for page in client.fetch_list_method("crm.item.list", params, id_key="id")
        for row in page
        if record_key(row, names) not in keep
    )


def read_matches(
    client: B24Hook, entity_type_id: int, wanted: Sequence[Wanted], select: Iterable[str] = ()
) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Records of ``entity_type_id`` matching any instance, keyed by their match values."""
    if not wanted:
        return {}
    names = sorted(wanted[0].match)
    selected = set(select)
    # protocol §9.2: crm.item.list returns fm only for "*"
    needs_all = FM in selected or bool(set(names) & set(MATCH_KEYS))
    fields = sorted({"id", *(n for n in names if n not in MATCH_KEYS), *selected} - {FM})
    columns = ["*", *fields] if needs_all else fields
    if set(names) & set(MATCH_KEYS):
        return _read_by_comms(client, entity_type_id, wanted, names, columns)
    varying = max(names, key=lambda name: len({scalar_text(w.match.get(name)) for w in wanted}))
    groups: dict[tuple[tuple[str, Any], ...], list[Any]] = defaultdict(list)
    for item in wanted:
        fixed = tuple((name, item.match[name]) for name in names if name != varying)
        value = item.match[varying]
        if value not in groups[fixed]:
            groups[fixed].append(value)
    queries: list[dict[str, Any]] = []
    for fixed, values in groups.items():
        for start in range(0, len(values), KEYS_PER_COMMAND):
            row_filter = {f"={name}": value for name, value in fixed}
            row_filter[f"@{varying}"] = values[start : start + KEYS_PER_COMMAND]
            queries.append(_list_query(entity_type_id, row_filter, columns))
    found: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in _read_all(client, queries):
        found[record_key(row, names)].append(row)
    return found


def _list_query(entity_type_id: int, row_filter: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    return {
        "entityTypeId": entity_type_id,
        "filter": row_filter,
        "select": columns,
        "order": {"id": "ASC"},
        "start": 0,
    }


def _read_by_comms(
    client: B24Hook, entity_type_id: int, wanted: Sequence[Wanted], names: list[str], columns: list[str]
) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Records found by e-mail (else phone) with findbycomm, read by ``@id``, then kept for each
    instance when every match value holds: communications compared normalised, fields as values."""
    comm = "email" if "email" in names else "phone"
    type_id = MATCH_KEYS[comm]
    entity = FIND_ENTITIES[entity_type_id]
    written: dict[str, str] = {}
    for item in wanted:
        # the values go out as written: the portal finds them through its own index (protocol §9.6)
        written.setdefault(normalise(type_id, item.match[comm]), str(item.match[comm]).strip())
    values = list(written.values())
    finds = [
        {"type": type_id, "values": values[start : start + VALUES_PER_FIND], "entity_type": entity}
        for start in range(0, len(values), VALUES_PER_FIND)
    ]
    ids: set[int] = set()
    for result, _ in _send_all(client, FIND_METHOD, finds):
        # protocol §9.6: {"CONTACT": [275, 2297]}, or [] when nothing matches
        if isinstance(result, Mapping):
            ids.update(int(found) for found in result.get(entity) or [])
    ordered = sorted(ids)
    queries = [
        _list_query(entity_type_id, {"@id": ordered[start : start + KEYS_PER_COMMAND]}, columns)
        for start in range(0, len(ordered), KEYS_PER_COMMAND)
    ]
    by_comm: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in _read_all(client, queries):
        for comm_key in {_comm_key(entry) for entry in row.get(FM) or [] if isinstance(entry, Mapping)}:
            by_comm[comm_key].append(row)
    found: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in wanted:
        key = match_key(item.match, names)
        candidates = by_comm.get((type_id, normalise(type_id, item.match[comm])), [])
        found[key] = [row for row in candidates if _holds(row, item.match, names)]
    return found


def _comm_key(entry: Mapping[str, Any]) -> tuple[str, str]:
    type_id = str(entry.get("typeId") or "").upper()
    return type_id, normalise(type_id, entry.get("value"))


def _holds(row: Mapping[str, Any], match: Mapping[str, Any], names: Sequence[str]) -> bool:
    comms = {_comm_key(entry) for entry in row.get(FM) or [] if isinstance(entry, Mapping)}
    for name in names:
        if name in MATCH_KEYS:
            if (MATCH_KEYS[name], normalise(MATCH_KEYS[name], match[name])) not in comms:
                return False
        elif scalar_text(row.get(name)) != scalar_text(match[name]):
            return False
    return True


def _send_all(
    client: B24Hook, method: str, queries: list[dict[str, Any]]
) -> Iterable[tuple[Any, dict[str, Any]]]:
    """Run read commands 50 to a request, following ``next`` of list commands; (result, query) pairs."""
    pending = list(queries)
    while pending:
        chunk, pending = pending[:MAX_BATCH], pending[MAX_BATCH:]
        commands = {f"q{i}": encode_command(method, query) for i, query in enumerate(chunk)}
        reply = client.send_batch(commands, halt=False, methods=dict.fromkeys(commands, method), safe=True)
        for i, query in enumerate(chunk):
            key = f"q{i}"
            if key in reply.errors:
                error = reply.errors[key]
                raise ApiError(error.code, f"reading the current records failed: {error.description}")
            yield reply.results.get(key), query
            following = reply.nexts.get(key)
            if following is not None:
                pending.append({**query, "start": int(following)})


def _read_all(client: B24Hook, queries: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """The rows of ``crm.item.list`` queries."""
    for page, _ in _send_all(client, "crm.item.list", queries):
        rows = page.get("items", []) if isinstance(page, Mapping) else []
        yield from rows


def duplicates(
    client: B24Hook, creates: Sequence[tuple[str, int, Mapping[str, Any]]]
) -> dict[str, tuple[int, ...]]:
    """The creates whose match values now find more than one record: the ids of all, by command key.

    ``creates`` holds (command key, entity type id, match values) of creates that succeeded. They are
    read as the state is (``read_matches``: 50 values a command, 50 commands a request), grouped by
    entity type and match fields, so 10,000 creates cost 4 requests (14 with an e-mail match).
    """
    groups: dict[tuple[int, tuple[str, ...]], list[Wanted]] = defaultdict(list)
    for key, entity_type_id, match in creates:
        groups[(entity_type_id, tuple(sorted(match)))].append(Wanted(key, match, {}))
    found: dict[str, tuple[int, ...]] = {}
    for (entity_type_id, names), wanted in groups.items():
        records = read_matches(client, entity_type_id, wanted)
        for item in wanted:
            ids = tuple(sorted({int(row["id"]) for row in records.get(match_key(item.match, names), [])}))
            if len(ids) > 1:
                found[item.key] = ids
    return found
