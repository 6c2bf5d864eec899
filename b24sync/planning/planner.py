"""Planning: a loaded pipeline into ordered batches of commands (the ``Plan``). Pure.

Keys (``keys``), the graph (``graph``) and the packing into batches (``schedule``) are steps of
``plan``; this module turns the scheduled nodes into the plan's frozen commands: links become
``$result[...]`` markers resolved by the portal or by b24sync, secrets ``$secret[...]`` markers, and
every command is encoded once so the executor can send it as is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any, Literal

from pydantic import JsonValue

from b24sync.bitrix.methods import is_read
from b24sync.bitrix.references import marker
from b24sync.bitrix.results import is_known_path
from b24sync.client.encoding import EncodingError, encode_command
from b24sync.errors import PipelineError, Problem, format_path
from b24sync.pipeline.gcpause import paused_gc
from b24sync.pipeline.loader import Pipeline, load_pipeline
from b24sync.pipeline.models import built
from b24sync.pipeline.sources import SourceRead
from b24sync.pipeline.template import Part, SecretRef, Text
from b24sync.planning.graph import Graph, Node, build_graph
from b24sync.planning.importing import lower_imports
from b24sync.planning.keys import command_keys
from b24sync.planning.linkrules import client_reason
from b24sync.planning.model import Batch, Command, LeftOut, Link, PipelineInfo, Plan, Source
from b24sync.planning.schedule import schedule
from b24sync.planning.select import Selection
from b24sync.upsert.lowering import Lowered, UpsertState
from b24sync.upsert.unsent import Unsent

PathStep = str | int


def plan_file(
    path: str,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_env: Collection[str] = (),
) -> Plan:
    """Load the pipeline file at ``path`` and plan it; every problem raises one ``PipelineError``."""
    return plan(load_pipeline(path, variables=variables, environ=environ, allow_env=allow_env))


def plan(
    pipeline: Pipeline,
    state: UpsertState | None = None,
    allow_delete: bool = False,
    selection: Selection | None = None,
) -> Plan:
    """The plan of a loaded pipeline; raise ``PipelineError`` for a cycle or unencodable parameters.

    ``state`` is what the portal holds for the pipeline's upsert steps (``b24sync.upsert.read_state``);
    without it every upsert instance is planned as a create. With ``selection`` only its kept steps
    are planned (``b24sync.planning.select``); command keys stay those of the whole pipeline.
    """
    with paused_gc():
        return _plan(pipeline, state, allow_delete, selection)


def _plan(
    pipeline: Pipeline, state: UpsertState | None, allow_delete: bool, selection: Selection | None
) -> Plan:
    keep = frozenset(selection.kept) if selection is not None and selection.left_out else None
    result, graph = planned(pipeline, state, allow_delete, selection, keep)
    # issue 17: mode: import steps become crm.item.batchImport commands (planning/importing.py)
    result = lower_imports(result, pipeline)
    if keep is None or selection is None:
        return result
    counts = Counter(node.step.spec.id for node in graph.nodes if node.outside)
    left_out = [LeftOut(step=step, commands=counts[step]) for step in selection.left_out]
    return result.model_copy(update={"left_out": tuple(left_out), "selected_by": selection.why})


def planned(
    pipeline: Pipeline,
    state: UpsertState | None = None,
    allow_delete: bool = False,
    selection: Selection | None = None,
    keep: frozenset[str] | None = None,
) -> tuple[Plan, Graph]:
    """The plan of ``pipeline`` before imports are lowered, and the scheduled graph it was built from."""
    keys = command_keys(pipeline)
    graph = build_graph(pipeline, keys, state, allow_delete, keep)
    schedule(graph.nodes, pipeline.spec.defaults.batch_size, pipeline)
    return _build(pipeline, graph.nodes, keys_by_ref(graph), graph.unsent, selection), graph


def keys_by_ref(graph: Graph) -> dict[tuple[str, str | None], str]:
    """The command key of every instance of the graph, by (step id, instance name)."""
    return {ref: graph.nodes[order].key for ref, order in graph.index_of.items()}


def _build(
    pipeline: Pipeline,
    nodes: list[Node],
    key_of: Mapping[tuple[str, str | None], str],
    unsent: list[Unsent],
    selection: Selection | None = None,
) -> Plan:
    ordered = sorted((node for node in nodes if not node.outside), key=lambda node: node.sequence)
    problems: list[Problem] = []
    batches: list[Batch] = []
    current: list[Command] = []
    halt = False
    for position, node in enumerate(ordered):
        command, in_batch = build_command(node, nodes, key_of, pipeline, problems, selection)
        current.append(command)
        halt = halt or in_batch
        if position + 1 == len(ordered) or ordered[position + 1].batch != node.batch:
            batches.append(built(Batch, {"index": node.batch, "halt": halt, "commands": tuple(current)}))
            current, halt = [], False
    if problems:
        # Every instance of a step shares its parameter names: report each problem once.
        raise PipelineError(sorted(set(problems), key=lambda p: (p.line, p.col, p.message)))
    defaults = pipeline.spec.defaults
    # model_construct: everything here is built from validated data, and a selection's links into the
    # steps it left out are only allowed once ``left_out`` is set (``plan`` adds it)
    return Plan.model_construct(
        pipeline=PipelineInfo(path=pipeline.path, sha256=pipeline.sha256),
        batch_size=defaults.batch_size,
        halt_on_error=defaults.halt_on_error,
        batches=tuple(batches),
        unsent=tuple(unsent),
        sources=tuple(_source(read) for read in pipeline.sources),
    )


def _source(read: SourceRead) -> Source:
    return Source(
        where=read.where,
        kind=read.kind,
        name=read.name,
        count=read.rows,
        details=read.details,
        requests=read.requests,
        sha256=read.sha256,
        rows=read.data,
    )


def build_command(
    node: Node,
    nodes: list[Node],
    key_of: Mapping[tuple[str, str | None], str],
    pipeline: Pipeline,
    problems: list[Problem],
    selection: Selection | None = None,
) -> tuple[Command, bool]:
    """The command of a node, and whether it depends on a command of its own batch."""
    links: dict[str, Link] = {}
    writes = bool(node.instance.links) and not is_read(node.method)
    for use, order in zip(node.instance.links, node.targets, strict=True):
        target = nodes[order]
        text = marker(target.key, use.ref.path)
        method = target.method
        resolution: Literal["server", "client"]
        if target.outside:
            if text in links:
                continue
            why = selection.why if selection is not None else "the selection"
            reason = (
                f"step {target.step.spec.id} is left out ({why}): the value comes from the "
                "report given with --resume"
            )
            resolution = "client"
        elif target.batch == node.batch:
            if text in links:
                continue
            reason = _same_batch_reason(method, use.ref.path)
            resolution = "server"
        else:
            # Of all uses of one marker, the one the portal could not resolve gives the reason.
            strict = client_reason(use, method, writes)
            if text in links and strict is None:
                continue
            reason = strict or "the target runs in an earlier batch"
            resolution = "client"
        # built: every value here comes from validated data; validating 100,000 commands again
        # would double the planning time (tests check a plan validates as JSON).
        links[text] = built(
            Link,
            {
                "marker": text,
                "target": target.key,
                "path": use.ref.path,
                "resolution": resolution,
                "reason": reason,
            },
        )
    instance = node.instance
    shape = instance.shape if node.lowered is None else None
    try:
        if shape is None:
            params = _finalize(instance.params, instance.text_paths, key_of)
            query = encode_command(node.method, params)
        elif instance.text_paths:
            values = [_text(v, key_of) if isinstance(v, Text) else v for v in instance.values]
            params = shape.build(values)  # type: ignore[assignment]
            query = shape.skeleton.fill(values)
        else:
            params = instance.params  # type: ignore[assignment]
            query = shape.skeleton.fill(instance.values)
    except EncodingError as error:
        problems.append(pipeline.problem(("steps", node.step.index, "params"), str(error), code="encoding"))
        query = ""
    after = node.after
    depends_on = tuple(nodes[target].key for target in after) if after else ()
    in_batch = bool(after) and any(nodes[target].batch == node.batch for target in after)
    lowered = node.lowered
    # the fields in Command's order: the JSON of a plan lists them in the order of this dict
    command: Command = built(
        Command,
        {
            "key": node.key,
            "step": node.step.spec.id,
            "instance": node.instance.name,
            "method": node.method,
            "params": params,
            "query": query,
            "links": tuple(links.values()),
            "depends_on": depends_on,
            "secrets": node.instance.secrets,
            "action": "call" if lowered is None else lowered.action,
            "record_id": None if lowered is None else lowered.record_id,
            "diff": _NO_DIFF if lowered is None else _diff(lowered, params),
        },
    )
    return command, in_batch


_NO_DIFF: dict[str, tuple[JsonValue, JsonValue]] = {}
"""The diff of every command that changes no record, one dict for all: a plan never changes it."""


@lru_cache(maxsize=1024)
def _same_batch_reason(method: str, path: tuple[str | int, ...]) -> str:
    # the same for every instance of a step: made once, not for each of 100,000 commands
    if is_known_path(method, path):
        return f"same batch; {method} always returns {format_path(path) or 'its result'}"
    return "same batch; this command only reads, so a fallback value cannot change anything"


def _diff(lowered: Lowered, params: Mapping[str, Any]) -> dict[str, Any]:
    # a field sent in another form than its value (fm entries) shows what the record will hold
    return {
        name: (old, new if name in lowered.reshaped else _shown(params, name))
        for name, (old, new) in (lowered.diff or {}).items()
    }


def _shown(params: Mapping[str, Any], name: str) -> JsonValue:
    fields = params.get("fields")
    return fields.get(name) if isinstance(fields, dict) else None


def _finalize(
    params: Mapping[object, object],
    text_paths: tuple[tuple[PathStep, ...], ...],
    key_of: Mapping[tuple[str, str | None], str],
) -> dict[str, JsonValue]:
    """Rendered parameters as plain data: links become ``$result`` markers, secrets ``$secret`` markers.

    Only the containers on the way to a ``Text`` value are copied (rendered trees share the parts
    without templates), which keeps planning 100,000 commands fast.
    """
    result: dict[Any, Any] = dict(params)
    for path in text_paths:
        container: Any = result
        for part in path[:-1]:
            child = container[part]
            container[part] = child = dict(child) if isinstance(child, dict) else list(child)
            container = child
        text = container[path[-1]]
        assert isinstance(text, Text)
        container[path[-1]] = _text(text, key_of)
    return result


def _text(text: Text, key_of: Mapping[tuple[str, str | None], str]) -> str:
    return "".join(_part_text(part, key_of) for part in text.parts)


def _part_text(part: Part, key_of: Mapping[tuple[str, str | None], str]) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, SecretRef):
        return f"$secret[{part.name}]"
    return marker(key_of[(part.step, part.instance)], part.path)
