"""Expanding steps into instances: ``for_each`` rows, ``when``, ``key`` and rendered ``params``.

Every instance carries its rendered parameters (links and secrets as ``Text`` values) and the links
it uses, so the planner never renders anything. Problems are reported through a callback with a
path relative to the step, so the caller can point at the pipeline file.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice, pairwise

from b24sync.pipeline.records import record
from b24sync.pipeline.shapes import Shape, compile_shape, render_shape
from b24sync.pipeline.sources.base import Place, SourceRow
from b24sync.pipeline.template import LinkUse, LookupKeyError, Renderer, TemplateError, TreeRenderer

PathStep = str | int
Report = Callable[[tuple[PathStep, ...], str, bool, "Place | None"], None]
"""``report(path_in_step, message, at_key, place)``: ``place`` is the data row's when the row is at fault."""


def instance_name(step: str, instance: str | None) -> str:
    """How people see one instance: ``step[instance]``, or the step id alone without ``for_each``."""
    return step if instance is None else f"{step}[{instance}]"


@record
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


Item = SourceRow
"""One ``for_each`` item and where it came from (``data/x.csv:4`` or ``item 2``): a data file's row
as its source gives it (``place``: where the row sits, for problems the row itself causes)."""


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

    instances: tuple[Instance, ...] | StreamedInstances
    """Rendered, or for a big ``for_each`` step in a streaming load, rendered on each iteration."""
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
        self.seen.clear()
        self.at_rows.clear()


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
    names = _Names(problems)
    instances = tuple(_instances(step, items, renderer, problems, names, length))
    problems.flush()
    return Expansion(instances, frozenset(names.dropped - set(names.first_origin)))


class _Names:
    """The names seen so far, to refuse a duplicate key, and the names ``when`` dropped."""

    def __init__(self, problems: _Deduplicated) -> None:
        self.problems = problems
        self.first_origin: dict[str, str] = {}
        self.dropped: set[str] = set()

    def drop(self, name: str) -> None:
        self.dropped.add(name)

    def take(self, name: str, origin: str) -> bool:
        """Whether ``name`` is new; a duplicate is a problem of the step."""
        first = self.first_origin.get(name)
        if first is not None:
            self.problems.add(
                ("key",), f"duplicate key {name!r} (first at for_each {first}, again at {origin})", False, ""
            )
            return False
        self.first_origin[name] = origin
        return True


def _instances(
    step: StepTemplates,
    items: Iterable[Item] | None,
    renderer: Renderer,
    problems: _Deduplicated,
    names: _Names,
    length: int | None = None,
    names_only: bool = False,
    built_up_to: int | None = None,
) -> Iterator[Instance]:
    """The instances of a step; past ``built_up_to`` of them each is checked in full but carries
    no parameters (``params`` empty, no shape): a first pass that keeps only its signature."""
    rows = items if items is not None else [Item(None, "")]
    made = 0
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
                    names.drop(dropped_name)
            continue
        name: str | None = None
        if items is not None:
            name = _instance_name(step, index0, scope, renderer, problems, row)
            if name is None or not names.take(name, row.origin):
                continue
        if names_only:  # which instances there are, not what they send
            yield Instance(name, {}, (), (), row.origin)
            continue
        made += 1
        build = built_up_to is None or made <= built_up_to
        fast = render_shape(shape, renderer, scope, build) if shape is not None else None
        if fast is not None:
            filled, values, links, secrets, text_paths = fast
            if build:
                yield Instance(name, filled, links, secrets, row.origin, text_paths, shape, values)
            else:
                yield Instance(name, filled, links, secrets, row.origin)
            continue
        tree = TreeRenderer(renderer, scope, links_allowed=True)
        params = tree.render(step.params)
        for problem in tree.problems:
            if problem.of_row and row.place is not None:
                problems.at_row(("params", *problem.path), problem.message, problem.in_key, row.place)
            else:
                problems.add(("params", *problem.path), problem.message, problem.in_key, row.origin)
        if isinstance(params, dict):
            yield Instance(
                name, params, tuple(tree.links), tuple(tree.secrets), row.origin, tuple(tree.text_paths)
            )


@dataclass(frozen=True)
class Scan:
    """What a first pass over a big ``for_each`` step found, keeping none of its instances."""

    count: int
    unique: bool
    """No two instances share a name (names are compared by hash: a clash means look again exactly)."""
    stems_unique: bool
    """No two names give the same command key stem (``key_stem``)."""
    uniform: bool
    """Every instance uses the same links and secrets as the first: one shape of dependencies."""
    links: tuple[LinkUse, ...] = ()
    """The links of the first instance (of every instance, when ``uniform``)."""
    first: Instance | None = None
    """The first instance: with ``uniform``, every check of links it passes, all of them pass."""
    names: array[int] = field(default_factory=lambda: array("q"))
    """The hash of every instance's name, in order: a second pass must give the same names."""
    numbered: bool = False
    """Some name gives the stem of a key the planner numbers for a command of its own (``import3``:
    ``planning.importing`` calls a ``crm.item.batchImport`` command ``<step>_import<n>`` unless an
    instance has that key), so the numbers are known only once every name is."""


def key_stem(name: str, position: int) -> str:
    """The part of a command key made from an instance name (protocol §3.2): ``<step>_<stem>``."""
    return _name_stem(name) or str(position)


def plain_key(step: str, name: str) -> str | None:
    """The command key of instance ``name`` when a name alone gives it (no suffix against a
    clash, a name with a letter or digit): what ``planning.keys`` gives such an instance."""
    stem = _name_stem(name)
    return f"{step}_{stem}" if stem else None


def _name_stem(name: str) -> str:
    if name.isascii() and name.isalnum():  # an id or a code, as most keys are: nothing to replace
        return name[:_KEY_LENGTH]
    return _KEY_CHARS.sub("_", name).strip("_")[:_KEY_LENGTH].rstrip("_")


_KEY_CHARS = re.compile(r"[^A-Za-z0-9]+")
_NUMBERED = "import"
"""The stem the planner numbers its own commands' keys with (``Scan.numbered``)."""
_KEY_LENGTH = 40


class _HashedNames(_Names):
    """Names checked exactly up to ``exact_up_to``, then kept as 8-byte hashes only: a million of
    them fit in 8 MB, not the 150 MB of a dict of names."""

    def __init__(self, problems: _Deduplicated, exact_up_to: int) -> None:
        super().__init__(problems)
        self.hashes = array("q")
        self.stems = array("q")
        self.numbered = False
        self.exact = True
        self._limit = exact_up_to

    def drop(self, name: str) -> None:
        if self.exact:  # past the limit nothing links into the step by name (the loader checks)
            super().drop(name)

    def take(self, name: str, origin: str) -> bool:
        self.hashes.append(hash(name))
        stem = key_stem(name, len(self.stems))
        self.stems.append(hash(stem))
        if stem.startswith(_NUMBERED) and stem[len(_NUMBERED) :].isdigit():
            self.numbered = True
        if self.exact and len(self.hashes) > self._limit:
            self.exact = False
            self.first_origin, self.dropped = {}, set()
        return super().take(name, origin) if self.exact else True


def _distinct(hashes: array[int]) -> bool:
    ordered = sorted(hashes)
    return all(a != b for a, b in pairwise(ordered))


def scan(
    step: StepTemplates, items: Iterable[Item], renderer: Renderer, report: Report, keep_up_to: int
) -> tuple[Scan, Expansion | None]:
    """Render every instance of a ``for_each`` step once: its problems, counts, and the expansion
    itself when there are no more than ``keep_up_to`` instances (exactly what ``expand`` gives).

    Past ``keep_up_to`` nothing is kept and names are compared by hash: ``Scan.unique`` is false
    when two may be the same, and ``expand`` (which names both rows) must look again.
    """
    problems = _Deduplicated(report)
    names = _HashedNames(problems, keep_up_to)
    count = 0
    uniform = True
    first: tuple[tuple[LinkUse, ...], tuple[str, ...]] | None = None
    one: Instance | None = None
    kept: list[Instance] | None = []
    # past the instances it keeps, the pass needs each one's problems, name, links and secrets only
    for instance in _instances(step, items, renderer, problems, names, built_up_to=keep_up_to + 1):
        count += 1
        if kept is not None:
            kept = kept if names.exact else None
            if kept is not None:
                kept.append(instance)
        signature = (instance.links, instance.secrets)
        if first is None:
            first, one = signature, instance
        elif uniform and signature != first:
            uniform = False
    problems.flush()
    links = () if first is None else first[0]
    hashes = names.hashes
    found = Scan(
        count, _distinct(hashes), _distinct(names.stems), uniform, links, one, hashes, numbered=names.numbered
    )
    if kept is None:
        return found, None
    return found, Expansion(tuple(kept), frozenset(names.dropped - set(names.first_origin)))


class StreamedInstances:
    """The instances of a big ``for_each`` step, rendered again from its source on every iteration.

    A million rendered instances take gigabytes; this takes nothing between iterations. ``produce``
    reads the source again and raises when it no longer gives what the first pass read.
    """

    def __init__(self, produce: Callable[[bool], Iterator[Instance]], found: Scan) -> None:
        self._produce = produce
        self.scan = found

    def __iter__(self) -> Iterator[Instance]:
        return self._produce(False)

    def names(self) -> Iterator[Instance]:
        """The instances with their names and origins only (nothing else rendered): what a stopped
        run needs of the ones it will not send, at a fraction of the cost."""
        return self._produce(True)

    def __len__(self) -> int:
        return self.scan.count

    def __getitem__(self, index: int) -> Instance:
        """The instance at ``index``, read up to it (a streamed step is meant to be iterated)."""
        if index < 0:
            index += self.scan.count
        found = next(islice(iter(self), index, None), None) if index >= 0 else None
        if found is None:
            raise IndexError("instance index out of range")
        return found

    def __bool__(self) -> bool:
        return self.scan.count > 0


def stream_again(
    step: StepTemplates,
    items: Iterable[Item],
    renderer: Renderer,
    report: Report,
    names: array[int],
    names_only: bool = False,
) -> Iterator[Instance]:
    """The instances of ``step`` again, for ``StreamedInstances``; problems go to ``report`` at once.

    Each name must be the one the first pass found at its position (``names``): a row added,
    removed or renamed since is reported before its instance is made.
    """
    problems = _Deduplicated(report)
    checked = _SameNames(problems, names)
    for instance in _instances(step, items, renderer, problems, checked, names_only=names_only):
        problems.flush()
        renderer.rearm()  # the first pass rendered all this within the total budget
        yield instance
    if checked.position != len(names):
        problems.add(("key",), f"the source has {checked.position} rows now, not {len(names)}", False, "")
    problems.flush()


class _SameNames(_Names):
    """Names that must be, position by position, those a first pass found (by hash)."""

    def __init__(self, problems: _Deduplicated, expected: array[int]) -> None:
        super().__init__(problems)
        self.expected = expected
        self.position = 0

    def drop(self, name: str) -> None:
        pass  # the first pass dropped the same rows: it has no hash of them

    def take(self, name: str, origin: str) -> bool:
        expected = self.expected
        if self.position >= len(expected) or expected[self.position] != hash(name):
            self.problems.add(("key",), f"{origin} is not the row the first read found there", False, "")
        self.position += 1
        return True


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
