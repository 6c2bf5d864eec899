"""Loading a pipeline file: ``load_pipeline()`` and the rendered ``Pipeline`` it returns.

``load_pipeline`` reads a file, checks its shape against the models, reads ``for_each`` data, renders
every instance and checks every link target. It collects every problem of the file and raises them
together as one ``PipelineError``; what it returns is ready for the planner.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from b24sync.bitrix.methods import NOT_IN_BATCH
from b24sync.errors import PipelineError, Problem, format_path
from b24sync.pipeline.budget import Budget
from b24sync.pipeline.datafiles import UnreadableDataFile, read_rows
from b24sync.pipeline.envrule import EnvRule, secret_names_in
from b24sync.pipeline.instances import Expansion, Item, StepTemplates, expand
from b24sync.pipeline.models import MODEL_KEYS, ForEachFile, PipelineSpec, StepSpec
from b24sync.pipeline.template import Renderer, TemplateError, TreeRenderer
from b24sync.pipeline.validation import describe, merge_alternatives, problem_from_detail
from b24sync.pipeline.yamlio import Path, YamlDocument, load_yaml


@dataclass(frozen=True)
class Step:
    """A valid step with its position and the instances it expands to."""

    index: int
    spec: StepSpec
    line: int
    col: int
    expansion: Expansion
    complete: bool = True


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline: every step valid, rendered and ready to plan."""

    path: str
    sha256: str
    spec: PipelineSpec
    steps: tuple[Step, ...]
    document: YamlDocument

    def problem(self, path: Path, message: str) -> Problem:
        """A problem located at ``path`` in the pipeline file."""
        return self.document.problem(path, message)


def load_pipeline(
    path: str,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    allow_env: Collection[str] = (),
) -> Pipeline:
    """Load, check and render the pipeline file at ``path``; raise ``PipelineError`` with every problem.

    ``environ`` is what ``env()`` and ``secret()`` see; ``env()`` follows ``pipeline.envrule`` (names in
    ``allow_env`` lift its name list, nothing lifts the rest).
    """
    if "\0" in path:
        raise PipelineError([Problem(repr(path), 1, 1, "", "a file name cannot hold a NUL character")])
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise PipelineError([Problem(path, 1, 1, "", f"cannot read: {error.strerror or error}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise PipelineError([Problem(path, line, 1, "", "the file is not UTF-8 text")]) from None
    document = load_yaml(text, path)
    if not isinstance(document.value, dict):
        raise PipelineError(
            [document.problem((), "a pipeline file must be a mapping (version, name, steps)")]
        )
    problems: list[Problem] = []
    spec, valid = _validate(document, problems)
    if spec is None:
        raise PipelineError(problems)
    known = _check_steps(valid, document, problems)
    environ = environ or {}
    rule = EnvRule(environ, frozenset(allow_env), set(secret_names_in(text)))
    renderer = Renderer(
        variables={**spec.vars, **(variables or {})},
        environ=environ,
        step_for_each=known,
        env_rule=rule,
        budget=Budget(time.monotonic),
    )
    steps = [_load_step(index, step, document, renderer, problems) for index, step in valid]
    if rule.conflicts():
        # a computed secret() name that env() read first: only this is reported, since other
        # messages may quote what env() returned
        raise PipelineError(
            [
                document.problem((), f"env({name!r}) read a variable the pipeline also uses as a secret()")
                for name in rule.conflicts()
            ]
        )
    _check_links(steps, document, problems)
    if problems:
        raise PipelineError(_sorted(problems))
    return Pipeline(path, hashlib.sha256(data).hexdigest(), spec, tuple(steps), document)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file != problems[0].file, p.file, p.line, p.col))


def _validate(
    document: YamlDocument, problems: list[Problem]
) -> tuple[PipelineSpec | None, list[tuple[int, StepSpec]]]:
    """The spec and its valid steps by index; ``None`` when the top level itself is invalid."""
    try:
        spec = PipelineSpec.model_validate(document.value)
        return spec, list(enumerate(spec.steps))
    except ValidationError as error:
        bad_steps: set[int] = set()
        top_level = False
        details = error.errors(include_url=False)
        found: list[Problem] = []
        step_errors = any(len(d["loc"]) >= 2 and d["loc"][0] == "steps" for d in details)
        for detail in details:
            loc = tuple(detail["loc"])
            if step_errors and loc == ("steps",) and detail["type"] == "too_short":
                continue  # pydantic counts only the valid steps; the invalid ones are reported
            if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
                bad_steps.add(loc[1])
            else:
                top_level = True
            found.append(problem_from_detail(document, loc, detail, _allowed_keys))
        problems.extend(merge_alternatives(found))
    raw = document.value
    if top_level or not isinstance(raw, dict) or not isinstance(raw.get("steps"), list):
        return None, []
    valid = [(i, StepSpec.model_validate(s)) for i, s in enumerate(raw["steps"]) if i not in bad_steps]
    # The top level is valid: check it with a stand-in step, then keep only the valid steps.
    head = PipelineSpec.model_validate({**raw, "steps": [{"id": "x", "method": "x"}]})
    return head.model_copy(update={"steps": tuple(step for _, step in valid)}), valid


def _model_for(path: Path) -> str:
    if path == ():
        return "pipeline"
    if path == ("defaults",):
        return "defaults"
    if len(path) == 2 and path[0] == "steps":
        return "step"
    if len(path) == 3 and path[0] == "steps" and path[2] == "for_each":
        return "for_each"
    return "pipeline"


def _allowed_keys(path: Path) -> tuple[str, ...]:
    return MODEL_KEYS[_model_for(path)]


def _check_steps(
    valid: list[tuple[int, StepSpec]], document: YamlDocument, problems: list[Problem]
) -> dict[str, bool]:
    """Step-level checks; the ids that exist, mapped to whether the step has ``for_each``."""
    first: dict[str, int] = {}
    raw_steps = document.value["steps"] if isinstance(document.value, dict) else []
    for index, raw in enumerate(raw_steps):
        step_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(step_id, str):
            continue
        if step_id in first:
            line = document.position(("steps", first[step_id], "id"))[0]
            message = f"duplicate step id {step_id!r} (first at line {line})"
            problems.append(document.problem(("steps", index, "id"), message))
            continue
        first[step_id] = index
    known = {step_id: (raw_steps[index].get("for_each") is not None) for step_id, index in first.items()}
    for index, step in valid:
        if step.key is not None and step.for_each is None:
            problems.append(
                document.problem(("steps", index, "key"), "key names for_each instances: add for_each")
            )
        if step.method.lower() in NOT_IN_BATCH:
            problems.append(
                document.problem(("steps", index, "method"), f"{step.method!r} cannot run inside a batch")
            )
        for position, target in enumerate(step.depends_on):
            where = ("steps", index, "depends_on", position)
            if target == step.id:
                problems.append(document.problem(where, "a step cannot depend on itself"))
            elif target not in known:
                close = difflib.get_close_matches(target, list(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(document.problem(where, f"unknown step {target!r}{hint}"))
    return known


def _load_step(
    index: int, step: StepSpec, document: YamlDocument, renderer: Renderer, problems: list[Problem]
) -> Step:
    base: Path = ("steps", index)

    def report(path: tuple[str | int, ...], message: str, at_key: bool) -> None:
        problems.append(document.problem((*base, *params_path(step, path)), message, key=at_key))

    before = len(problems)
    items = _items(step, base, document, renderer, problems)
    params: Mapping[str, Any] = step.params
    if step.upsert is not None:
        params = {"match": step.upsert.match, "fields": step.upsert.fields}
    templates = StepTemplates(step.for_each is not None, step.key, step.when, params)
    if items is None and step.for_each is not None:
        expansion = Expansion((), frozenset())
    else:
        expansion = expand(templates, items, renderer, report)
    if step.upsert is not None:
        for instance in expansion.instances:
            for use in instance.links:
                if use.path[0] == "match":
                    report(
                        ("params", *use.path),
                        "match values must be known before apply: "
                        "a link cannot identify the record to upsert",
                        False,
                    )
                    break
    line, col = document.position(base)
    # A step that already has a problem may lack instances: links to it would only repeat that.
    return Step(index, step, line, col, expansion, complete=len(problems) == before)


def params_path(step: StepSpec, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Where a path inside the rendered parameters of a step sits in the file (upsert or params)."""
    if step.upsert is not None and path[:1] == ("params",):
        return ("upsert", *path[1:])
    return path


def _items(
    step: StepSpec, base: Path, document: YamlDocument, renderer: Renderer, problems: list[Problem]
) -> list[Item] | None:
    """The ``for_each`` items of a step; ``None`` without ``for_each`` or when they cannot be had."""
    where: Path = (*base, "for_each")
    source = step.for_each
    if source is None:
        return None
    if isinstance(source, ForEachFile):
        folder = os.path.dirname(document.file)
        data_path = os.path.join(folder, source.file) if folder else source.file
        try:
            rows = read_rows(data_path, format_path(where))
        except UnreadableDataFile as error:
            problems.append(document.problem((*where, "file"), str(error)))
            return None
        except PipelineError as error:
            problems.extend(error.problems)
            return None
        return [Item(row.value, f"{data_path}:{row.line}") for row in rows]
    if isinstance(source, str):
        try:
            value = renderer.render_string(source, {})
        except TemplateError as error:
            problems.append(document.problem(where, str(error)))
            return None
        if not isinstance(value, list):
            problems.append(document.problem(where, f"for_each must render to a list, got {describe(value)}"))
            return None
        return [Item(v, f"item {i}") for i, v in enumerate(value)]
    tree = TreeRenderer(renderer, {}, links_allowed=False)
    rendered = tree.render(source)
    for problem in tree.problems:
        problems.append(document.problem((*where, *problem.path), problem.message))
    if tree.problems or not isinstance(rendered, list):
        return None
    return [Item(v, f"item {i}") for i, v in enumerate(rendered)]


def _check_links(steps: list[Step], document: YamlDocument, problems: list[Problem]) -> None:
    """Every link must name an instance that exists (unless its step already has a problem)."""
    by_id = {step.spec.id: step for step in steps if step.complete}
    names = {step.spec.id: {i.name for i in step.expansion.instances} for step in steps}
    for step in steps:
        for instance in step.expansion.instances:
            for link in instance.links:
                ref = link.ref
                target = by_id.get(ref.step)
                if target is None:
                    continue
                if target.spec.upsert is not None and ref.path != ("id",):
                    picked = "[...]" if ref.instance is not None else ""
                    message = (
                        f"the result of upsert step {ref.step!r} is its record id: "
                        f"use steps.{ref.step}{picked}.id"
                    )
                elif ref.instance in names[ref.step]:
                    continue
                elif ref.instance is None:
                    message = f"step {ref.step!r} is dropped by its when"
                elif ref.instance in target.expansion.dropped:
                    message = f"instance {ref.instance!r} of step {ref.step!r} is dropped by its when"
                else:
                    message = f"step {ref.step!r} has no instance {ref.instance!r}"
                origin = f" (for_each {instance.origin})" if instance.origin else ""
                where = ("steps", step.index, *params_path(step.spec, ("params", *link.path)))
                problems.append(document.problem(where, message + origin))
