"""Loading a pipeline file: ``load_pipeline()`` and the rendered ``Pipeline`` it returns.

``load_pipeline`` reads a file, checks its shape against the models, reads the ``lookups`` and then
the rows of every ``for_each`` source, renders every instance and checks every link target. It
collects every problem of the file and raises them together as one ``PipelineError``; what it
returns is ready for the planner, with what each source read (``Pipeline.sources``).

Without a portal (``validate``) the portal's sources cannot be read: their steps, and the steps that
use a lookup read from the portal or link to such a step, are checked without instances and listed
in ``Pipeline.pending``.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from b24sync.bitrix.methods import NOT_IN_BATCH
from b24sync.bitrix.results import returns_object
from b24sync.errors import DataChanged, PipelineError, Problem, format_path
from b24sync.pipeline.budget import Budget
from b24sync.pipeline.envrule import EnvRule, secret_names_in
from b24sync.pipeline.gcpause import paused_gc
from b24sync.pipeline.instances import (
    Expansion,
    Instance,
    Item,
    StepTemplates,
    StreamedInstances,
    expand,
    scan,
    stream_again,
)
from b24sync.pipeline.models import (
    MODEL_KEYS,
    FileSource,
    PipelineSpec,
    PortalSource,
    Source,
    SqlSource,
    StepSpec,
)
from b24sync.pipeline.sandbox import LookupTable, lookup_key
from b24sync.pipeline.sources import (
    PortalOpener,
    RowSource,
    SourceContext,
    SourceError,
    SourceRead,
    open_source,
)
from b24sync.pipeline.sources.base import Place, Recorded, Replayed
from b24sync.pipeline.template import Renderer, TemplateError, TreeRenderer
from b24sync.pipeline.upserts import upsert_problems
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
    pending: bool = False
    """Its rows need the portal, which this load did not have: checked, but without instances."""


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline: every step valid, rendered and ready to plan."""

    path: str
    sha256: str
    spec: PipelineSpec
    steps: tuple[Step, ...]
    document: YamlDocument
    sources: tuple[SourceRead, ...] = ()
    """What each lookup and ``for_each`` source read, in the order they were read."""
    pending: tuple[str, ...] = field(default=())
    """Steps left without instances because their rows need the portal (only without one)."""

    def problem(self, path: Path, message: str, code: str = "invalid") -> Problem:
        """A problem located at ``path`` in the pipeline file."""
        return self.document.problem(path, message, code=code)


def load_pipeline(
    path: str,
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    portal: PortalOpener | None = None,
    allow_env: Collection[str] = (),
    stream_above: int | None = None,
) -> Pipeline:
    """Load, check and render the pipeline file at ``path``; raise ``PipelineError`` with every problem.

    ``environ`` is what ``env()``, ``secret()`` and SQL sources see; ``env()`` follows
    ``pipeline.envrule`` (names in ``allow_env`` lift its name list, nothing lifts the rest).
    ``portal`` opens the portal for portal sources; without it they are checked but not read
    (``Pipeline.pending``).

    With ``stream_above``, a ``for_each`` step over a data file of more rows than that is read
    twice instead of kept: once now, for every problem (nothing is sent before all are known), then
    each time its instances are iterated (``StreamedInstances``), the file's sha256 proving it is
    the same. An upsert or import step, a step another step links into by name, or rows of a
    database or the portal are always kept.
    """
    with paused_gc():
        return _load(path, variables, environ, portal, allow_env, stream_above)


def _load(
    path: str,
    variables: Mapping[str, str] | None,
    environ: Mapping[str, str] | None,
    portal: PortalOpener | None,
    allow_env: Collection[str],
    stream_above: int | None = None,
) -> Pipeline:
    if "\0" in path:
        raise PipelineError([Problem(repr(path), 1, 1, "", "a file name cannot hold a NUL character")])
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise PipelineError(
            [Problem(path, 1, 1, "", f"cannot read: {error.strerror or error}", "cannot-read")]
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise PipelineError([Problem(path, line, 1, "", "the file is not UTF-8 text", "not-utf8")]) from None
    document = load_yaml(text, path)
    if not isinstance(document.value, dict):
        raise PipelineError(
            [
                document.problem(
                    (), "a pipeline file must be a mapping (version, name, steps)", code="wrong-type"
                )
            ]
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
    loading = _Loading(document, renderer, environ, portal, problems, stream_above)
    loading.share(spec)
    loading.load_lookups(spec)
    steps = [loading.load_step(index, step) for index, step in valid]
    steps = _hold_dependents(steps)
    steps = loading.keep_linked(steps)
    loading.forget_shared()
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
    pending = tuple(step.spec.id for step in steps if step.pending)
    sha256 = hashlib.sha256(data).hexdigest()
    return Pipeline(path, sha256, spec, tuple(steps), document, tuple(loading.reads), pending)


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
    source = path[3:] if path[:1] == ("steps",) and path[2:3] == ("for_each",) else None
    if len(path) >= 2 and path[0] == "lookups":
        source = path[2:]
        if source == ():
            return "lookup"
    if source == ():
        return "for_each"
    if source in (("sql",), ("portal",)):
        return str(source[0])
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
            problems.append(document.problem(("steps", index, "id"), message, code="duplicate-step"))
            continue
        first[step_id] = index
    known = {step_id: (raw_steps[index].get("for_each") is not None) for step_id, index in first.items()}
    for index, step in valid:
        if step.key is not None and step.for_each is None:
            problems.append(
                document.problem(
                    ("steps", index, "key"), "key names for_each instances: add for_each", code="bad-value"
                )
            )
        if step.method.lower() in NOT_IN_BATCH:
            problems.append(
                document.problem(
                    ("steps", index, "method"),
                    f"{step.method!r} cannot run inside a batch",
                    code="bad-method",
                )
            )
        for position, target in enumerate(step.depends_on):
            where = ("steps", index, "depends_on", position)
            if target == step.id:
                problems.append(
                    document.problem(where, "a step cannot depend on itself", code="unknown-step")
                )
            elif target not in known:
                close = difflib.get_close_matches(target, list(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(
                    document.problem(where, f"unknown step {target!r}{hint}", code="unknown-step")
                )
    return known


class _Loading:
    """The state of one load: where problems go, what the sources read, which lookups are unread."""

    def __init__(
        self,
        document: YamlDocument,
        renderer: Renderer,
        environ: Mapping[str, str],
        portal: PortalOpener | None,
        problems: list[Problem],
        stream_above: int | None = None,
    ) -> None:
        self.stream_above = stream_above
        self.document = document
        self.renderer = renderer
        self.environ = environ
        self.portal = portal
        self.problems = problems
        self.reads: list[SourceRead] = []
        self.unread: set[str] = set()
        self.folder = os.path.dirname(document.file)
        self._opens: dict[tuple[Any, ...], int] = {}
        """Opens still to come of each data file read by more than one step or lookup (``share``)."""
        self._first: dict[tuple[Any, ...], Recorded] = {}
        """The first read of each such file: the later opens replay its rows."""

    def share(self, spec: PipelineSpec) -> None:
        """Count the data files that several steps or lookups read, so each is read once.

        Chains over one file (four steps of ``for_each: {file: rows.json}``) read and parsed it four
        times. Only files read more than once are kept, and each only until its last reader: a file
        read by one step still streams through as before.
        """
        sources = [*spec.lookups.values(), *(step.for_each for step in spec.steps)]
        for source in sources:
            if isinstance(source, FileSource):
                key = self._file_key(source)
                self._opens[key] = self._opens.get(key, 0) + 1
        self._opens = {key: count for key, count in self._opens.items() if count > 1}

    def forget_shared(self) -> None:
        """Let go of the rows kept for readers that never came (a step left without instances)."""
        self._first.clear()
        self._opens.clear()

    def _file_key(self, spec: FileSource) -> tuple[Any, ...]:
        path = os.path.join(self.folder, spec.file) if self.folder else spec.file
        if "\0" not in path:  # a NUL is refused when the file is opened, with its message
            path = os.path.realpath(path)
        return (path, spec.delimiter, spec.encoding, spec.sheet, spec.header_row)

    # -- sources ---------------------------------------------------------------------------------

    def _open(self, spec: Source, where: Path, shared: bool = True) -> tuple[RowSource | None, bool]:
        """The source, and whether it can be read now (a portal source needs the portal).

        A data file that an earlier step or lookup read cleanly is served from that read (``share``);
        ``shared=False`` reads it from the disk again (to check it did not change, or a second pass).
        """
        key = self._file_key(spec) if shared and isinstance(spec, FileSource) else None
        if key is not None and key in self._opens:
            left = self._opens[key] = self._opens[key] - 1
            first = self._first.pop(key, None) if left == 0 else self._first.get(key)
            if first is not None and first.kept is not None and not first.problems:
                return Replayed(first, format_path(where)), True
            opened, readable = self._open(spec, where, shared=False)
            if opened is not None and left > 0:
                opened = self._first[key] = Recorded(opened)
            return opened, readable
        params: Mapping[str, Any] = {}
        inner: Path = ()
        if isinstance(spec, SqlSource):
            params, inner = spec.sql.params, ("sql", "params")
        elif isinstance(spec, PortalSource):
            params, inner = spec.portal.params, ("portal", "params")
        tree = TreeRenderer(self.renderer, {}, links_allowed=False)
        rendered = tree.render(dict(params))
        for problem in tree.problems:
            self.problems.append(
                self.document.problem((*where, *inner, *problem.path), problem.message, code="template")
            )
        if tree.problems or not isinstance(rendered, dict):
            return None, False
        context = SourceContext(format_path(where), self.folder, self.environ, self.portal, rendered)
        try:
            source = open_source(spec, context)
        except SourceError as error:
            self.problems.append(self.document.problem((*where, *error.key), str(error), code="data-file"))
            return None, False
        return source, not (isinstance(spec, PortalSource) and self.portal is None)

    def _stream(self, source: RowSource, where: Path, failed: list[bool]) -> Iterator[Item]:
        """The rows of ``source`` as items; a source that fails midway is a problem, not an exception."""
        try:
            yield from source.rows()  # a row is an item as it is (``instances.Item``)
        except SourceError as error:
            failed.append(True)
            self.problems.append(self.document.problem((*where, *error.key), str(error), code="data-file"))

    def _finish(self, source: RowSource, failed: list[bool]) -> None:
        # a data source reports its rows' problems; for machine output they are all data-file problems
        self.problems.extend(
            p if p.code != "invalid" else replace(p, code="data-file") for p in source.problems
        )
        if not failed:
            self.reads.append(source.summary())

    # -- lookups ---------------------------------------------------------------------------------

    def load_lookups(self, spec: PipelineSpec) -> None:
        """Read every lookup into a table by key and make them known to the templates."""
        tables: dict[str, LookupTable] = {}
        for name, lookup in spec.lookups.items():
            where: Path = ("lookups", name)
            compiled = self.renderer.compile(lookup.key, False)
            if compiled.error is not None:
                self.problems.append(self.document.problem((*where, "key"), compiled.error, code="template"))
                continue
            source, readable = self._open(lookup, where)
            if source is None:
                self.unread.add(name)
                continue
            if not readable:
                self.unread.add(name)
                continue
            failed: list[bool] = []
            tables[name] = self._table(name, lookup.key, self._stream(source, where, failed), where)
            self._finish(source, failed)
            if failed:
                self.unread.add(name)
        self.renderer.add_lookups(tables)

    def _table(self, name: str, key: str, items: Iterator[Item], where: Path) -> LookupTable:
        rows: dict[str, Any] = {}
        first: dict[str, str] = {}
        reported: set[str] = set()
        for item in items:
            try:
                value = self.renderer.render_string(key, {"row": item.value})
            except TemplateError as error:
                message = str(error)
                if message not in reported:
                    reported.add(message)
                    self._row_problem(item, (*where, "key"), f"{message} (row {item.origin})")
                continue
            text = lookup_key(value)
            if text is None or text == "":
                continue  # a row without a key (a user without an e-mail) cannot be looked up
            if text in rows:
                self._row_problem(
                    item,
                    (*where, "key"),
                    f"lookup {name!r} has two rows with the key {text!r} ({first[text]} and {item.origin}): "
                    "make the key unique or filter the rows",
                )
                continue
            rows[text] = item.value
            first[text] = item.origin
        return LookupTable(name, rows)

    def _row_problem(self, item: Item, where: Path, message: str) -> None:
        place: Place | None = item.place
        if place is not None:
            self.problems.append(place.problem(format_path(where), message, code="template"))
        else:
            self.problems.append(self.document.problem(where, message, code="template"))

    # -- steps -----------------------------------------------------------------------------------

    def load_step(self, index: int, step: StepSpec) -> Step:
        """The step with its instances (or, when its rows cannot be had, with none)."""
        document, problems = self.document, self.problems
        base: Path = ("steps", index)

        def report(path: tuple[str | int, ...], message: str, at_key: bool, place: Place | None) -> None:
            where = (*base, *params_path(step, path))
            if place is not None:
                problems.append(place.problem(format_path(where), message, code="template"))
            else:
                problems.append(document.problem(where, message, key=at_key, code="template"))

        before = len(problems)
        params: Mapping[str, Any] = step.params
        if step.upsert is not None:
            params = {"match": step.upsert.match, "fields": step.upsert.fields}
        method = step.method if step.upsert is None else None
        templates = StepTemplates(step.for_each is not None, step.key, step.when, params, method)
        line, col = document.position(base)
        if self._needs_unread_lookup(step, templates):
            self._check_templates(base, step, templates)
            return Step(index, step, line, col, Expansion((), frozenset()), complete=False, pending=True)
        source = step.for_each
        if isinstance(source, (FileSource, SqlSource, PortalSource)):
            where: Path = (*base, "for_each")
            opened, readable = self._open(source, where)
            if opened is None or not readable:
                self._check_templates(base, step, templates)
                pending = opened is not None
                return Step(
                    index, step, line, col, Expansion((), frozenset()), complete=False, pending=pending
                )
            failed: list[bool] = []
            length_used = self.renderer.uses_loop_length([step.key, step.when, dict(params)])
            scanned = None
            if self.stream_above is not None and not length_used and self._streamable(step, source):
                scanned = self._scan(templates, source, opened, where, report)
                if scanned is None:
                    opened, _ = self._open(source, where, shared=False)  # a name may be there twice: again
            if scanned is not None:
                expansion = scanned
            elif opened is not None:
                rows: Any = self._stream(opened, where, failed)
                length = None
                if length_used:
                    rows = list(rows)  # loop.length needs every row first; otherwise they stream
                    length = len(rows)
                expansion = expand(templates, rows, self.renderer, report, length)
                self._finish(opened, failed)
            else:
                expansion = Expansion((), frozenset())  # the file went away between two reads
        else:
            items = self._listed(step, base)
            if items is None and step.for_each is not None:
                expansion = Expansion((), frozenset())
            else:
                expansion = expand(
                    templates, items, self.renderer, report, None if items is None else len(items)
                )
        if step.upsert is not None:
            self._check_match_links(step, expansion, report)
        problems.extend(upsert_problems(index, step, expansion.instances, document))
        # A step that already has a problem may lack instances: links to it would only repeat that.
        return Step(index, step, line, col, expansion, complete=len(problems) == before)

    def _streamable(self, step: StepSpec, source: Source) -> bool:
        """Whether a step's instances may be rendered again from its source instead of kept.

        A data file can be read again (its sha256 proves it is the same); a database or the portal
        may answer differently. Upserts read the portal for every instance.
        """
        return isinstance(source, FileSource) and step.upsert is None

    def _scan(
        self, templates: StepTemplates, source: Source, opened: RowSource, where: Path, report: Any
    ) -> Expansion | None:
        """One pass over a data file's rows: its problems, and the expansion, kept when it has no
        more than ``stream_above`` instances, else a ``StreamedInstances`` that keeps nothing.

        ``None`` when a name may be there twice among many (``expand`` names both rows): the caller
        reads the file again then.
        """
        failed: list[bool] = []
        before = len(self.problems)
        assert self.stream_above is not None
        rows = self._stream(opened, where, failed)
        found, kept = scan(templates, rows, self.renderer, report, self.stream_above)
        self._finish(opened, failed)
        if kept is not None:
            return kept
        if failed or len(self.problems) > before:
            return Expansion(StreamedInstances(lambda _: iter(()), found), frozenset())  # the load fails
        if not found.unique:
            self.reads.pop()  # read again, by expand
            return None
        first = self.reads[-1]
        names = found.names
        produce = lambda only: self._again(templates, source, where, first, names, only)  # noqa: E731
        return Expansion(StreamedInstances(produce, found), frozenset())

    def _again(
        self,
        templates: StepTemplates,
        source: Source,
        where: Path,
        first: SourceRead,
        names: Any,
        names_only: bool = False,
    ) -> Iterator[Instance]:
        """The instances of a streamed step, from its file read again; ``DataChanged`` if it changed."""
        opened, _ = self._open(source, where, shared=False)
        if opened is None:
            raise DataChanged(f"{first.name} can no longer be read: {self.problems[-1].message}")

        def changed(path: tuple[str | int, ...], message: str, at_key: bool, place: Place | None) -> None:
            raise DataChanged(f"{first.name} changed during the run ({message})")

        failed: list[bool] = []
        rows = self._stream(opened, where, failed)
        yield from stream_again(templates, rows, self.renderer, changed, names, names_only)
        if failed or opened.problems:
            problem = (self.problems if failed else opened.problems)[-1]
            raise DataChanged(f"{first.name} changed during the run ({problem.message})")
        now = opened.summary()
        if now.sha256 != first.sha256 or now.rows != first.rows:
            raise DataChanged(
                f"{first.name} changed during the run (sha256 {first.sha256[:12]}, now {now.sha256[:12]})"
            )

    def keep_linked(self, steps: list[Step]) -> list[Step]:
        """Streamed steps that another step links into or depends on, rendered and kept after all."""
        streamed = {s.spec.id for s in steps if isinstance(s.expansion.instances, StreamedInstances)}
        if not streamed:
            return steps
        needed = {t for s in steps for t in s.spec.depends_on if t in streamed}
        for step in steps:
            instances = step.expansion.instances
            if isinstance(instances, StreamedInstances) and instances.scan.uniform:
                needed.update(u.ref.step for u in instances.scan.links if u.ref.step in streamed)
            else:  # a streamed step whose instances link differently is read once more here
                needed.update(u.ref.step for i in instances for u in i.links if u.ref.step in streamed)
        if not needed:
            return steps
        kept = self.stream_above
        self.stream_above = None
        try:
            for position, step in enumerate(steps):
                if step.spec.id not in needed:
                    continue
                where = format_path(("steps", step.index, "for_each"))
                at = next(n for n, read in enumerate(self.reads) if read.where == where)
                del self.reads[at]
                steps[position] = self.load_step(step.index, step.spec)
                self.reads.insert(at, self.reads.pop())  # where the first read was
        finally:
            self.stream_above = kept
        return steps

    def _needs_unread_lookup(self, step: StepSpec, templates: StepTemplates) -> bool:
        if not self.unread:
            return False
        source = step.for_each if isinstance(step.for_each, (str, list)) else None
        named = self.renderer.mentioned_lookups([step.key, step.when, dict(templates.params), source])
        return named is None or bool(named & self.unread)

    def _check_templates(self, base: Path, step: StepSpec, templates: StepTemplates) -> None:
        """Without rows, every template of the step is still compiled: syntax and link placement."""
        checks: list[tuple[Path, object, bool]] = [
            (("key",), step.key, False),
            (("when",), step.when, False),
            (("params",), dict(templates.params), True),
        ]
        for path, value, links_allowed in checks:
            for inner, text in _template_strings(value, ()):
                compiled = self.renderer.compile(text, links_allowed)
                if compiled.error is not None:
                    where = (*base, *params_path(step, (*path, *inner)))
                    self.problems.append(self.document.problem(where, compiled.error, code="template"))

    def _check_match_links(self, step: StepSpec, expansion: Expansion, report: Any) -> None:
        for instance in expansion.instances:
            for use in instance.links:
                if use.path[0] == "match":
                    report(
                        ("params", *use.path),
                        "match values must be known before apply: "
                        "a link cannot identify the record to upsert",
                        False,
                        None,
                    )
                    return

    def _listed(self, step: StepSpec, base: Path) -> list[Item] | None:
        """The items of a ``for_each`` written in the file (a list or a template); ``None`` without."""
        where: Path = (*base, "for_each")
        source = step.for_each
        if source is None:
            return None
        if isinstance(source, str):
            try:
                value = self.renderer.render_string(source, {})
            except TemplateError as error:
                self.problems.append(self.document.problem(where, str(error), code="template"))
                return None
            if not isinstance(value, list):
                message = f"for_each must render to a list, got {describe(value)}"
                self.problems.append(self.document.problem(where, message, code="wrong-type"))
                return None
            return [Item(v, f"item {i}") for i, v in enumerate(value)]
        tree = TreeRenderer(self.renderer, {}, links_allowed=False)
        rendered = tree.render(source)
        for problem in tree.problems:
            self.problems.append(
                self.document.problem((*where, *problem.path), problem.message, code="template")
            )
        if tree.problems or not isinstance(rendered, list):
            return None
        return [Item(v, f"item {i}") for i, v in enumerate(rendered)]


def _template_strings(
    value: object, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        if "{" in value:
            yield path, value
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _template_strings(child, (*path, index))
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _template_strings(child, (*path, key))


def _hold_dependents(steps: list[Step]) -> list[Step]:
    """Steps linking to a pending step's instances are pending too: those instances do not exist yet."""
    pending = {step.spec.id for step in steps if step.pending}
    while pending:
        added = False
        for position, step in enumerate(steps):
            if step.pending:
                continue
            linked = {use.ref.step for i in step.expansion.instances for use in i.links}
            if linked & pending:
                steps[position] = Step(
                    step.index,
                    step.spec,
                    step.line,
                    step.col,
                    Expansion((), frozenset()),
                    complete=False,
                    pending=True,
                )
                pending.add(step.spec.id)
                added = True
        if not added:
            break
    return steps


def params_path(step: StepSpec, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Where a path inside the rendered parameters of a step sits in the file (upsert or params)."""
    if step.upsert is not None and path[:1] == ("params",):
        return ("upsert", *path[1:])
    return path


def _check_links(steps: list[Step], document: YamlDocument, problems: list[Problem]) -> None:
    """Every link must name an instance that exists (unless its step already has a problem)."""
    by_id = {step.spec.id: step for step in steps if step.complete}
    # a streamed step is never linked into by name (``keep_linked``): its million names are not needed
    names = {
        step.spec.id: set()
        if isinstance(step.expansion.instances, StreamedInstances)
        else {i.name for i in step.expansion.instances}
        for step in steps
    }
    for step in steps:
        _check_step_links(step, by_id, names, document, problems)


def _check_step_links(
    step: Step,
    by_id: Mapping[str, Step],
    names: Mapping[str, set[str | None]],
    document: YamlDocument,
    problems: list[Problem],
) -> None:
    instances: Any = step.expansion.instances
    if isinstance(instances, StreamedInstances) and instances.scan.uniform and instances.scan.first:
        # every instance links as the first: it alone shows whether they all pass, without a read
        found = len(problems)
        _check_instance_links(step, (instances.scan.first,), by_id, names, document, problems)
        if len(problems) == found:
            return
        del problems[found:]  # a problem: every instance reports its own, as without streaming
    _check_instance_links(step, instances, by_id, names, document, problems)


def _check_instance_links(
    step: Step,
    instances: Iterable[Instance],
    by_id: Mapping[str, Step],
    names: Mapping[str, set[str | None]],
    document: YamlDocument,
    problems: list[Problem],
) -> None:
    for instance in instances:
        for link in instance.links:
            ref = link.ref
            target = by_id.get(ref.step)
            if target is None:
                continue
            if (
                ref.instance is None
                and ref.path[:1]
                and isinstance(ref.path[0], int)
                and returns_object(target.spec.method)
            ):
                message = (
                    f"the result of {target.spec.method} is not a list: use steps.{ref.step}.PATH "
                    "(an index like [0] reads the list a method such as user.get returns)"
                )
            elif target.spec.upsert is not None and ref.path != ("id",):
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
            problems.append(document.problem(where, message + origin, code="bad-link"))
