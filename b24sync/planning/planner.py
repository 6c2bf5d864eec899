"""Planning: a loaded pipeline into ordered batches of commands (the ``Plan``). Pure.

Keys (``keys``), the graph (``graph``) and the packing into batches (``schedule``) are steps of
``plan``; this module turns the scheduled nodes into the plan's frozen commands: links become
``$result[...]`` markers resolved by the portal or by b24sync, secrets ``$secret[...]`` markers, and
every command is encoded once so the executor can send it as is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from pydantic import JsonValue

from b24sync.bitrix.methods import is_read
from b24sync.bitrix.references import marker
from b24sync.bitrix.results import is_known_path
from b24sync.client.encoding import EncodingError, encode_command
from b24sync.errors import PipelineError, Problem, format_path
from b24sync.pipeline.loader import Pipeline, load_pipeline
from b24sync.pipeline.template import Part, SecretRef, Text
from b24sync.planning.graph import Node, build_graph
from b24sync.planning.keys import command_keys
from b24sync.planning.linkrules import client_reason
from b24sync.planning.model import Batch, Command, Link, PipelineInfo, Plan
from b24sync.planning.schedule import schedule
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


def plan(pipeline: Pipeline, state: UpsertState | None = None, allow_delete: bool = False) -> Plan:
    """The plan of a loaded pipeline; raise ``PipelineError`` for a cycle or unencodable parameters.

    ``state`` is what the portal holds for the pipeline's upsert steps (``b24sync.upsert.read_state``);
    without it every upsert instance is planned as a create.
    """
    keys = command_keys(pipeline)
    graph = build_graph(pipeline, keys, state, allow_delete)
    schedule(graph.nodes, pipeline.spec.defaults.batch_size, pipeline)
    key_of = {ref: graph.nodes[order].key for ref, order in graph.index_of.items()}
    return _build(pipeline, graph.nodes, key_of, graph.unsent)


def _build(
    pipeline: Pipeline, nodes: list[Node], key_of: Mapping[tuple[str, str | None], str], unsent: list[Unsent]
) -> Plan:
    ordered = sorted(nodes, key=lambda node: node.sequence)
    problems: list[Problem] = []
    batches: list[Batch] = []
    current: list[Command] = []
    halt = False
    for position, node in enumerate(ordered):
        command, in_batch = _command(node, nodes, key_of, pipeline, problems)
        current.append(command)
        halt = halt or in_batch
        if position + 1 == len(ordered) or ordered[position + 1].batch != node.batch:
            batches.append(Batch(index=node.batch, halt=halt, commands=tuple(current)))
            current, halt = [], False
    if problems:
        # Every instance of a step shares its parameter names: report each problem once.
        raise PipelineError(sorted(set(problems), key=lambda p: (p.line, p.col, p.message)))
    defaults = pipeline.spec.defaults
    return Plan(
        pipeline=PipelineInfo(path=pipeline.path, sha256=pipeline.sha256),
        batch_size=defaults.batch_size,
        halt_on_error=defaults.halt_on_error,
        batches=tuple(batches),
        unsent=tuple(unsent),
    )


def _command(
    node: Node,
    nodes: list[Node],
    key_of: Mapping[tuple[str, str | None], str],
    pipeline: Pipeline,
    problems: list[Problem],
) -> tuple[Command, bool]:
    """The command of a node, and whether it depends on a command of its own batch."""
    links: dict[str, Link] = {}
    writes = not is_read(node.method)
    for use, order in zip(node.instance.links, node.targets, strict=True):
        target = nodes[order]
        text = marker(target.key, use.ref.path)
        method = target.method
        if target.batch == node.batch:
            if text in links:
                continue
            reason = (
                f"same batch; {method} always returns {format_path(use.ref.path) or 'its result'}"
                if is_known_path(method, use.ref.path)
                else "same batch; this command only reads, so a fallback value cannot change anything"
            )
            resolution: Literal["server", "client"] = "server"
        else:
            # Of all uses of one marker, the one the portal could not resolve gives the reason.
            strict = client_reason(use, method, writes)
            if text in links and strict is None:
                continue
            reason = strict or "the target runs in an earlier batch"
            resolution = "client"
        # model_construct: every value here is built from validated data; validating 100,000
        # commands again would double the planning time (tests check a plan validates as JSON).
        links[text] = Link.model_construct(
            marker=text, target=target.key, path=use.ref.path, resolution=resolution, reason=reason
        )
    params = _finalize(node.instance.params, node.instance.text_paths, key_of)
    try:
        query = encode_command(node.method, params)
    except EncodingError as error:
        problems.append(pipeline.problem(("steps", node.step.index, "params"), str(error)))
        query = ""
    depends_on = tuple(nodes[target].key for target in node.after)
    in_batch = any(nodes[target].batch == node.batch for target in node.after)
    command = Command.model_construct(
        key=node.key,
        step=node.step.spec.id,
        instance=node.instance.name,
        method=node.method,
        params=params,
        query=query,
        links=tuple(links.values()),
        depends_on=depends_on,
        secrets=node.instance.secrets,
        **(_upsert_fields(node.lowered, params) if node.lowered is not None else {}),
    )
    return command, in_batch


def _upsert_fields(lowered: Lowered, params: Mapping[str, Any]) -> dict[str, Any]:
    diff = {name: (old, _shown(params, name)) for name, (old, _) in (lowered.diff or {}).items()}
    return {"action": lowered.action, "record_id": lowered.record_id, "diff": diff}


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
        container[path[-1]] = "".join(_part_text(part, key_of) for part in text.parts)
    return result


def _part_text(part: Part, key_of: Mapping[tuple[str, str | None], str]) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, SecretRef):
        return f"$secret[{part.name}]"
    return marker(key_of[(part.step, part.instance)], part.path)
