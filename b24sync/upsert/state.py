"""The portal's current state for upsert steps: the records each instance matches (I/O via the client).

Reading costs one ``crm.item.list`` command per 50 match values (an ``@`` filter), 50 commands per
request, so the state of 10,000 records takes ``ceil(10000 / 2500)`` requests. With
``delete_missing`` the records carrying the step's fixed match values are listed as well, to find
those absent from the source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from b24sync.bitrix.limits import MAX_BATCH
from b24sync.client import B24Hook
from b24sync.client.encoding import encode_command
from b24sync.errors import ApiError, PipelineError
from b24sync.pipeline import Pipeline, Step
from b24sync.pipeline.template import LinkRef, SecretRef, Text
from b24sync.upsert.decide import KEYS_PER_COMMAND, Decision, Wanted, decide, match_key, scalar_text
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
            raise PipelineError(
                [
                    pipeline.problem(
                        ("steps", step.index, "upsert", "match", empty[0]),
                        f"instance {instance.name!r} has an empty {empty[0]}: every instance needs a value "
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
        wanted.append(Wanted(instance.name or "", match, fields, frozenset(linked)))
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
    params = {
        "entityTypeId": upsert.entity_type_id,
        "filter": {f"={k}": v for k, v in fixed.items()},
        "select": ["id", *names],
    }
    return tuple(
        int(row["id"])
        for page in client.fetch_list_method("crm.item.list", params, id_key="id")
        for row in page
        if match_key(row, names) not in keep
    )


def read_matches(
    client: B24Hook, entity_type_id: int, wanted: Sequence[Wanted], select: Iterable[str] = ()
) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Records of ``entity_type_id`` matching any instance, keyed by their match values."""
    if not wanted:
        return {}
    names = sorted(wanted[0].match)
    fields = sorted({"id", *names, *select})
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
            queries.append(
                {
                    "entityTypeId": entity_type_id,
                    "filter": row_filter,
                    "select": fields,
                    "order": {"id": "ASC"},
                    "start": 0,
                }
            )
    found: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in _read_all(client, queries):
        found[match_key(row, names)].append(row)
    return found


def _read_all(client: B24Hook, queries: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Run list queries 50 to a request, following ``next`` when a query has more than a page."""
    pending = list(queries)
    while pending:
        chunk, pending = pending[:MAX_BATCH], pending[MAX_BATCH:]
        commands = {f"q{i}": encode_command("crm.item.list", query) for i, query in enumerate(chunk)}
        reply = client.send_batch(
            commands, halt=False, methods=dict.fromkeys(commands, "crm.item.list"), safe=True
        )
        for i, query in enumerate(chunk):
            key = f"q{i}"
            if key in reply.errors:
                error = reply.errors[key]
                raise ApiError(error.code, f"reading the current records failed: {error.description}")
            page = reply.results.get(key)
            rows = page.get("items", []) if isinstance(page, Mapping) else []
            yield from rows
            following = reply.nexts.get(key)
            if following is not None:
                pending.append({**query, "start": int(following)})
