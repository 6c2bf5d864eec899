"""A step's parameters compiled once: the templates to render, the tree to build, the query skeleton.

Most steps have fixed parameter names with templates only in values (``name: "{{ item.name }}"``).
For those, each instance renders its templates once, in order (its ``values``), builds its tree from
them and, in the planner, fills the step's query ``Skeleton`` instead of encoding the whole tree
again. Anything unusual (a template in a key, literal text the portal would misread, a template
that fails or gives a list or a map) leaves the instance to ``TreeRenderer``, which reports
problems exactly as before: the shape is a fast path, never a second set of rules.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from b24sync.client.encoding import EncodingError, Hole, Skeleton, compile_skeleton
from b24sync.pipeline.sandbox import PathStep
from b24sync.pipeline.template import (
    LinkRef,
    LinkUse,
    Renderer,
    SecretRef,
    Text,
    is_template,
    reference_text_problem,
)

Build = Callable[[Sequence[object]], object]


@dataclass(frozen=True, slots=True)
class Shape:
    """The compiled parameters of one step."""

    templates: tuple[str, ...]
    """The template of each hole, in tree order."""
    evaluators: tuple[Callable[[Mapping[str, object]], object], ...]
    """Each template compiled (``Renderer.evaluator``)."""
    paths: tuple[tuple[PathStep, ...], ...]
    """Where each hole sits in the parameters."""
    build: Build
    """The parameter tree with the given values in its holes (template-free parts are shared)."""
    skeleton: Skeleton


Rendered = tuple[
    dict[object, object],
    tuple[object, ...],
    tuple[LinkUse, ...],
    tuple[str, ...],
    tuple[tuple[PathStep, ...], ...],
]
"""One instance's parameters rendered through its step's shape: params, the value of each hole, links,
secrets and the paths of the ``Text`` values. A plain tuple: one is made per data row, and the
``Instance`` it becomes is the row's one record."""


class _Unusual(Exception):
    """The tree holds something only ``TreeRenderer`` handles."""


def compile_shape(method: str, params: Mapping[str, object], renderer: Renderer) -> Shape | None:
    """The shape of a step's parameters, or ``None`` when its instances need ``TreeRenderer``."""
    templates: list[str] = []
    paths: list[tuple[PathStep, ...]] = []
    try:
        tree, build = _compile(params, (), templates, paths, renderer)
        skeleton = compile_skeleton(method, tree)  # type: ignore[arg-type]
    except (_Unusual, EncodingError):
        return None
    if build is None or not isinstance(tree, dict):
        return None  # nothing to render: TreeRenderer shares the tree as it is
    evaluators = tuple(renderer.evaluator(source, True) for source in templates)
    return Shape(tuple(templates), evaluators, tuple(paths), build, skeleton)


def _compile(
    value: object,
    path: tuple[PathStep, ...],
    templates: list[str],
    paths: list[tuple[PathStep, ...]],
    renderer: Renderer,
) -> tuple[object, Build | None]:
    """The tree with ``Hole``s for the skeleton, and its builder (``None`` for a part without templates)."""
    if isinstance(value, str):
        if is_template(value):
            if renderer.compile(value, True).error is not None:
                raise _Unusual
            templates.append(value)
            paths.append(path)
            return Hole(len(templates) - 1), operator.itemgetter(len(templates) - 1)
        if reference_text_problem(value) is not None:
            raise _Unusual
        return value, None
    if isinstance(value, dict):
        skeleton: dict[object, object] = {}
        entries: list[tuple[str, object, Build | None]] = []
        for key, child in value.items():
            if not isinstance(key, str) or is_template(key) or reference_text_problem(key) is not None:
                raise _Unusual
            skeleton[key], build = _compile(child, (*path, key), templates, paths, renderer)
            entries.append((key, child, build))
        if all(build is None for _, _, build in entries):
            return value, None
        return skeleton, _dict_builder(tuple(entries))
    if isinstance(value, list):
        items: list[object] = []
        builds: list[tuple[object, Build | None]] = []
        for index, child in enumerate(value):
            shaped, build = _compile(child, (*path, index), templates, paths, renderer)
            items.append(shaped)
            builds.append((child, build))
        if all(build is None for _, build in builds):
            return value, None
        return items, _list_builder(tuple(builds))
    return value, None


def _dict_builder(entries: tuple[tuple[str, object, Build | None], ...]) -> Build:
    def build(values: Sequence[object]) -> object:
        return {key: child if make is None else make(values) for key, child, make in entries}

    return build


def _list_builder(items: tuple[tuple[object, Build | None], ...]) -> Build:
    def build(values: Sequence[object]) -> object:
        return [child if make is None else make(values) for child, make in items]

    return build


def render_shape(
    shape: Shape, renderer: Renderer, scope: Mapping[str, object], build: bool = True
) -> Rendered | None:
    """One instance rendered through the shape; ``None`` when it needs ``TreeRenderer`` (a problem).

    ``build=False``: every value is rendered and checked, but the parameters are not put together
    (an empty map): what a first pass over a big step needs of an instance it does not keep.
    """
    values: list[object] = []
    links: list[LinkUse] = []
    secrets: list[str] = []
    text_paths: list[tuple[PathStep, ...]] = []
    for index, evaluate in enumerate(shape.evaluators):
        try:
            value = evaluate(scope)
        except Exception:  # TreeRenderer renders the instance again and reports the problem
            return None
        if value.__class__ is str:
            assert isinstance(value, str)
            if "$" in value and reference_text_problem(value) is not None:
                return None
        elif isinstance(value, Text):
            path = shape.paths[index]
            text_paths.append(path)
            parts = value.parts
            for position, part in enumerate(parts):
                if isinstance(part, SecretRef):
                    if part.name not in secrets:
                        secrets.append(part.name)
                elif isinstance(part, LinkRef):
                    following = parts[position + 1] if position + 1 < len(parts) else None
                    text_follows = following is not None and not (
                        isinstance(following, str) and following[:1].isspace()
                    )
                    links.append(LinkUse(path, part, text_follows))
                elif reference_text_problem(part) is not None:
                    return None
        elif isinstance(value, (dict, list)):
            return None  # its inner text is checked by TreeRenderer
        values.append(value)
    params = shape.build(values) if build else {}
    assert isinstance(params, dict)
    return params, tuple(values), tuple(links), tuple(secrets), tuple(text_paths)
