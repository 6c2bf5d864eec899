"""Expanding steps into instances: ``for_each`` rows, ``when``, ``key`` and rendered ``params``.

Every instance carries its rendered parameters (links and secrets as ``Text`` values) and the links
it uses, so the planner never renders anything. Problems are reported through a callback with a
path relative to the step, so the caller can point at the pipeline file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from b24sync.pipeline.shapes import Shape, compile_shape, render_shape
from b24sync.pipeline.sources.base import Place
from b24sync.pipeline.template import LinkUse, LookupKeyError, Renderer, TemplateError, TreeRenderer

PathStep = str | int
Report = Callable[[tuple[PathStep, ...], str, bool, "Place | None"], None]
"""``report(path_in_step, message, at_key, place)``: ``place`` is the data row's when the row is at fault."""


def instance_name(step: str, instance: str | None) -> str:
    """How people see one instance: ``step[instance]``, or the step id alone without ``for_each``."""
    return step if instance is None else f"{step}[{instance}]"


@dataclass(frozen=True, slots=True)
class Instance:
    """One command to send: a step, or one ``for_each`` item of a step, rendered."""

    name: str | None
    params: Mapping[object, object]
    links: tuple[LinkUse, ...]
    secrets: tuple[str, ...]
    origin: str
    text_paths: tuple[tuple[PathStep, ...], ...] = ()
    """Where the ``Text`` values (links, secrets) sit in ``params``."""
    shape: Shape | None = None
    """The step's compiled parameters, when this instance was rendered through them."""
    values: tuple[object, ...] = ()
    """With ``shape``: the rendered value of each of its holes, ``Text`` values included."""


@dataclass(frozen=True, slots=True)
class Item:
    """One ``for_each`` item and where it came from (``data/x.csv:4`` or ``item 2``)."""

    value: object
    origin: str
    place: Place | None = None
    """Where the row sits in a data file, for problems the row itself causes."""


@dataclass(frozen=True)
class StepTemplates:
    """The templated parts of one step, as written."""

    for_each: bool
    key: str | None
    when: str | bool | None
    params: Mapping[str, object]
    method: str | None = None
    """The method its commands call, for the query skeleton; ``None`` when they are lowered (upserts)."""


@dataclass(frozen=True)
class Expansion:
    """The instances a step expands to, and the keys of the items ``when`` dropped."""

    instances: tuple[Instance, ...]
    dropped: frozenset[str]


class _Deduplicated:
    """Reports a problem once even when every instance of a step has it."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.seen: dict[tuple[tuple[PathStep, ...], str, bool], list[str]] = {}
        self.at_rows: dict[tuple[tuple[PathStep, ...], str, bool], tuple[Place, int]] = {}

    def add(self, path: tuple[PathStep, ...], message: str, at_key: bool, origin: str) -> None:
        self.seen.setdefault((path, message, at_key), []).append(origin)

    def add_problem(self, path: tuple[PathStep, ...], error: TemplateError, at_key: bool, row: Item) -> None:
        """A rendering problem: at the data row when the row is at fault, else deduplicated."""
        if isinstance(error, LookupKeyError) and row.place is not None:
            self.at_row(path, str(error), at_key, row.place)
        else:
            self.add(path, str(error), at_key, row.origin)

    def at_row(self, path: tuple[PathStep, ...], message: str, at_key: bool, place: Place) -> None:
        first, count = self.at_rows.get((path, message, at_key), (place, 0))
        self.at_rows[(path, message, at_key)] = (first, count + 1)

    def flush(self) -> None:
        for (path, message, at_key), origins in self.seen.items():
            where = origins[0]
            more = f" and {len(origins) - 1} more" if len(origins) > 1 else ""
            suffix = f" (for_each {where}{more})" if where else ""
            self.report(path, message + suffix, at_key, None)
        for (path, message, at_key), (place, count) in self.at_rows.items():
            more = f" (and {count - 1} more rows)" if count > 1 else ""
            self.report(path, message + more, at_key, place)


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        # A mixed template renders to text: "False" must not count as true.
        return value.strip().lower() not in ("", "false", "0", "no", "none", "n")
    return bool(value)


def expand(
    step: StepTemplates,
    items: Iterable[Item] | None,
    renderer: Renderer,
    report: Report,
    length: int | None = None,
) -> Expansion:
    """Render every instance of one step; problems go to ``report``.

    ``items`` is iterated once and may stream. ``loop.length``, ``loop.last`` and ``loop.revindex``
    exist only when ``length`` (the number of items) is given.
    """
    problems = _Deduplicated(report)
    instances: list[Instance] = []
    dropped: set[str] = set()
    first_origin: dict[str, str] = {}
    rows = items if items is not None else [Item(None, "")]
    shape = compile_shape(step.method, step.params, renderer) if step.method is not None else None
    for index0, row in enumerate(rows):
        scope: dict[str, object] = {}
        if items is not None:
            loop: dict[str, object] = {"index": index0 + 1, "index0": index0, "first": index0 == 0}
            if length is not None:
                loop.update(
                    last=index0 == length - 1,
                    length=length,
                    revindex=length - index0,
                    revindex0=length - index0 - 1,
                )
            scope = {"item": row.value, "loop": loop}
        if not _when(step.when, scope, renderer, problems, row):
            if items is not None:
                quiet = _Deduplicated(lambda path, message, at_key, place: None)
                dropped_name = _instance_name(step, index0, scope, renderer, quiet, row)
                if dropped_name is not None:
                    dropped.add(dropped_name)
            continue
        name: str | None = None
        if items is not None:
            name = _instance_name(step, index0, scope, renderer, problems, row)
            if name is None:
                continue
            if name in first_origin:
                problems.add(
                    ("key",),
                    f"duplicate key {name!r} (first at for_each {first_origin[name]}, again at {row.origin})",
                    False,
                    "",
                )
                continue
            first_origin[name] = row.origin
        fast = render_shape(shape, renderer, scope) if shape is not None else None
        if fast is not None:
            instances.append(
                Instance(
                    name,
                    fast.params,
                    fast.links,
                    fast.secrets,
                    row.origin,
                    fast.text_paths,
                    shape,
                    fast.values,
                )
            )
            continue
        tree = TreeRenderer(renderer, scope, links_allowed=True)
        params = tree.render(step.params)
        for problem in tree.problems:
            if problem.of_row and row.place is not None:
                problems.at_row(("params", *problem.path), problem.message, problem.in_key, row.place)
            else:
                problems.add(("params", *problem.path), problem.message, problem.in_key, row.origin)
        if isinstance(params, dict):
            instances.append(
                Instance(
                    name, params, tuple(tree.links), tuple(tree.secrets), row.origin, tuple(tree.text_paths)
                )
            )
    problems.flush()
    return Expansion(tuple(instances), frozenset(dropped - set(first_origin)))


def _instance_name(
    step: StepTemplates,
    index0: int,
    scope: Mapping[str, object],
    renderer: Renderer,
    problems: _Deduplicated,
    row: Item,
) -> str | None:
    if step.key is None:
        return str(index0)
    try:
        value = renderer.render_string(step.key, scope)
    except TemplateError as error:
        problems.add_problem(("key",), error, False, row)
        return None
    if value is None or isinstance(value, (dict, list)) or value == "":
        problems.add(("key",), f"the key must render to non-empty text, got {value!r}", False, row.origin)
        return None
    return str(value)


def _when(
    when: str | bool | None,
    scope: Mapping[str, object],
    renderer: Renderer,
    problems: _Deduplicated,
    row: Item,
) -> bool:
    if when is None or isinstance(when, bool):
        return when is not False
    try:
        return _truthy(renderer.render_string(when, scope))
    except TemplateError as error:
        problems.add_problem(("when",), error, False, row)
        return False
