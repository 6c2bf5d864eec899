"""Sandboxed jinja2 rendering of pipeline values; step references become links, not values.

A string holding ``{{`` or ``{%`` is a template. When the whole string is one ``{{ expression }}``
its value keeps its type (``"{{ vars.n }}"`` stays an int); any other template renders to text.
``steps.X.path`` and ``steps.X[KEY].path`` are only known after apply, so they render to a
``LinkRef`` inside a ``Text`` value (the planner turns it into a ``$result[...]`` marker);
``secret('NAME')`` renders to a ``SecretRef`` (the executor substitutes it at send time).
Rendering is pure: the environment is passed in as a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import nodes

from b24sync.bitrix.references import REFERENCE_TEXT
from b24sync.pipeline.budget import Budget, BudgetError
from b24sync.pipeline.envrule import EnvRefused, EnvRule
from b24sync.pipeline.expressions import Fast, compile_fast, concatenate
from b24sync.pipeline.records import record
from b24sync.pipeline.sandbox import (
    LinkRef,
    LinkValue,
    LookupKeyError,
    Part,
    PathStep,
    SandboxEnvironment,
    SecretRef,
    SecretValue,
    Steps,
    StrictNames,
    TemplateError,
    Text,
    check_usage,
    secret_function,
    whole_result,
)

__all__ = [
    "LinkRef",
    "LinkUse",
    "LookupKeyError",
    "Part",
    "RenderProblem",
    "Renderer",
    "SecretRef",
    "TemplateError",
    "Text",
    "TreeRenderer",
    "is_template",
    "reference_text_problem",
]

_TEMPLATE_START = ("{{", "{%", "{#")
_SINGLE = re.compile(r"\A\{\{-?(.*?)-?\}\}\Z", re.DOTALL)
_SENTINEL = "\x00"
# loop attributes known before the row count is (the others need every row read first)
_CHEAP_LOOP = frozenset({"index", "index0", "first"})


@record
class LinkUse:
    """Where a link sits in a rendered value and what surrounds it (protocol §4.3 decides safety)."""

    path: tuple[PathStep, ...]
    ref: LinkRef
    text_follows: bool


@dataclass(frozen=True)
class RenderProblem:
    """A template problem at ``path`` (relative to the rendered tree)."""

    path: tuple[PathStep, ...]
    message: str
    in_key: bool = False
    of_row: bool = False
    """The data row is at fault (a lookup has no row for its key), not the template."""


def is_template(text: str) -> bool:
    """Whether a string is a template rather than literal text."""
    return "{" in text and any(mark in text for mark in _TEMPLATE_START)


def reference_text_problem(text: str) -> str | None:
    """A message when literal text would be read by the portal as a reference."""
    if "$" not in text:
        return None
    found = REFERENCE_TEXT.search(text)
    if found is None:
        return None
    return (
        f"the text {found.group(0)!r} would be read by the portal as a reference "
        "(protocol §4.1); it cannot be sent literally"
    )


@dataclass
class _Compiled:
    single: Callable[..., Any] | None = None
    template: jinja2.Template | None = None
    fast: Fast | None = None
    pieces: tuple[str | Fast, ...] | None = None
    error: str | None = None


@dataclass
class _Collector:
    refs: list[LinkRef | SecretRef] = field(default_factory=list)


class Renderer:
    """Renders the templates of one pipeline; compiled templates are cached per source text."""

    def __init__(
        self,
        *,
        variables: Mapping[str, object],
        environ: Mapping[str, str],
        step_for_each: Mapping[str, bool],
        lookups: Mapping[str, object] | None = None,
        env_rule: EnvRule | None = None,
        budget: Budget | None = None,
    ) -> None:
        self._environ = environ
        self.env_rule = env_rule if env_rule is not None else EnvRule(environ)
        self._env = SandboxEnvironment(
            budget=budget,
            undefined=StrictNames,
            finalize=self._finalize,
            autoescape=False,
            keep_trailing_newline=True,
        )
        self._base: dict[str, Any] = {
            "vars": dict(variables),
            "env": self._env_function,
            "secret": self._secret_function,
            "steps": Steps(step_for_each),
            "lookups": dict(lookups or {}),
        }
        self._cache: dict[tuple[str, bool], _Compiled] = {}
        self._static: dict[int, tuple[object, list[RenderProblem] | None]] = {}

    @jinja2.pass_context
    def _finalize(self, context: jinja2.runtime.Context, value: Any) -> Any:
        value = whole_result(value)
        if isinstance(value, LinkValue | SecretValue):
            collector: _Collector = context["_collector"]
            collector.refs.append(value.ref if isinstance(value, LinkValue) else SecretRef(value.name))
            return f"{_SENTINEL}{len(collector.refs) - 1}{_SENTINEL}"
        return self._env.budget.spend(value)  # what a template prints counts, in loops too

    def _env_function(self, name: object, default: object = jinja2.utils.missing) -> object:
        if not isinstance(name, str):
            raise TemplateError("env() takes the name of an environment variable")
        try:
            self.env_rule.check_name(name)
            if name in self._environ:
                value = self._environ[name]
                self.env_rule.check_value(name, value)
                self.env_rule.read.add(name)
                return value
        except EnvRefused as error:
            raise TemplateError(str(error)) from None
        if default is jinja2.utils.missing:
            raise TemplateError(
                f"environment variable {name!r} is not set (give a default: env({name!r}, 'value'))"
            )
        return default

    def _secret_function(self, name: object) -> SecretValue:
        value = secret_function(name)
        self.env_rule.note_secret(value.name)
        return value

    def compile(self, source: str, links_allowed: bool) -> _Compiled:
        """Compile ``source`` once; syntax and usage errors are remembered, not raised."""
        cached = self._cache.get((source, links_allowed))
        if cached is not None:
            return cached
        compiled = _Compiled()
        try:
            tree = self._env.parse(source)
            check_usage(tree, links_allowed)
            body = tree.body
            single = _SINGLE.match(source)
            outputs = body[0].nodes if len(body) == 1 and isinstance(body[0], nodes.Output) else None
            fast = [compile_fast(n, self._env, self._base) for n in outputs] if outputs is not None else []
            # jinja2 makes Python code of a template and compiles it: 12 of the 52 ms of CPU of
            # applying 40 commands in a fresh process. A template the fast path renders (names,
            # items, attributes, comparisons and text) is never rendered by jinja2, so only the
            # others are made into jinja2's code.
            if (
                single is not None
                and outputs is not None
                and len(outputs) == 1
                and not isinstance(outputs[0], nodes.TemplateData)
            ):
                compiled.fast = fast[0]
                if compiled.fast is None:
                    compiled.single = self._env.compile_expression(single.group(1), undefined_to_none=False)
            elif outputs is not None and all(
                f is not None or isinstance(node, nodes.TemplateData)
                for f, node in zip(fast, outputs, strict=True)
            ):
                compiled.pieces = tuple(
                    f if f is not None else str(getattr(node, "data", ""))
                    for f, node in zip(fast, outputs, strict=True)
                )
            else:
                compiled.template = self._env.from_string(tree)
        except jinja2.TemplateSyntaxError as error:
            where = f" (line {error.lineno} of the template)" if error.lineno > 1 else ""
            compiled.error = f"template syntax error: {error.message}{where}"
        except (TemplateError, BudgetError) as error:
            compiled.error = str(error)
        except jinja2.TemplateError as error:
            # jinja2 folds constant expressions while compiling: the sandbox may refuse one then
            compiled.error = error.message or type(error).__name__
        except RecursionError:
            compiled.error = "the template nests too deeply to be read"
        except Exception as error:  # compiling a hostile template must not end the load
            compiled.error = f"the template cannot be compiled ({type(error).__name__}: {error})"
        self._cache[(source, links_allowed)] = compiled
        return compiled

    def render_string(
        self, source: str, scope: Mapping[str, object], *, links_allowed: bool = False
    ) -> object:
        """Render one template; a single expression keeps its type. Raises ``TemplateError``."""
        compiled = self.compile(source, links_allowed)
        if compiled.error is not None:
            raise TemplateError(compiled.error)
        # Names, attributes, items and comparisons only: nothing there can loop or grow.
        try:
            if compiled.fast is not None:
                return _plain(compiled.fast(scope))
            if compiled.pieces is not None:
                return concatenate(compiled.pieces, scope)
        except TemplateError:
            raise
        except jinja2.TemplateError as error:
            raise TemplateError(error.message or type(error).__name__) from None
        except Exception as error:  # a user's expression failed (1 < 'a', ...)
            raise TemplateError(f"{type(error).__name__}: {error}") from None
        self._env.budget.start(len(source))
        try:
            return self._render(compiled, scope)
        except BudgetError as error:
            raise TemplateError(str(error)) from None
        except RecursionError:
            raise TemplateError("the template calls itself too deeply") from None
        except MemoryError:
            raise TemplateError("the template needs more memory than there is") from None

    def evaluator(self, source: str, links_allowed: bool) -> Callable[[Mapping[str, object]], object]:
        """``render_string`` of ``source`` as one function of the scope, for a template rendered per row.

        A simple expression is called directly; its exceptions are not turned into ``TemplateError``,
        so the caller treats any exception as "render it again through ``render_string``".
        """
        compiled = self.compile(source, links_allowed)
        fast, pieces = compiled.fast, compiled.pieces
        if compiled.error is None and fast is not None:

            def simple(scope: Mapping[str, object]) -> object:
                value = fast(scope)
                return value if value.__class__ is str else _plain(value)

            return simple
        if compiled.error is None and pieces is not None:
            return lambda scope: concatenate(pieces, scope)
        return lambda scope: self.render_string(source, scope, links_allowed=links_allowed)

    def _render(self, compiled: _Compiled, scope: Mapping[str, object]) -> object:
        """A template that is not a simple expression, through jinja2 and the budget."""
        context = {**self._base, **scope}
        try:
            if compiled.single is not None:
                return _plain(compiled.single(**context))
            collector = _Collector()
            context["_collector"] = collector
            assert compiled.template is not None
            text = compiled.template.render(context)
        except (TemplateError, BudgetError, RecursionError, MemoryError):
            raise
        except jinja2.TemplateError as error:
            raise TemplateError(error.message or type(error).__name__) from None
        except Exception as error:  # a user's expression failed (1 / 0, int('x'), ...)
            raise TemplateError(f"{type(error).__name__}: {error}") from None
        if not collector.refs:
            return text
        return _split(text, collector.refs)

    def add_lookups(self, lookups: Mapping[str, object]) -> None:
        """Make ``lookups.NAME`` available to the templates rendered from now on."""
        self._base["lookups"].update(lookups)

    def mentioned_lookups(self, value: object) -> set[str] | None:
        """The lookups templates in ``value`` name; ``None`` when one picks a lookup by a computed name."""
        found: set[str] = set()
        for _, text, _ in _strings(value, ()):
            if not is_template(text) or "lookups" not in text:
                continue
            try:
                tree = self._env.parse(text)
            except jinja2.TemplateSyntaxError:
                continue
            uses = [name for name in tree.find_all(nodes.Name) if name.name == "lookups"]
            named = 0
            for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
                assert isinstance(node, (nodes.Getattr, nodes.Getitem))
                if not (isinstance(node.node, nodes.Name) and node.node.name == "lookups"):
                    continue
                if isinstance(node, nodes.Getattr):
                    found.add(node.attr)
                    named += 1
                elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                    found.add(node.arg.value)
                    named += 1
            if len(uses) > named:
                return None
        return found

    def rearm(self) -> None:
        """Start the total template time anew (``Budget.again``), for a second pass over rendered rows."""
        self._env.budget.again()

    def uses_loop_length(self, value: object) -> bool:
        """Whether templates in ``value`` need the number of rows (``loop.length``, ``last``, ``revindex``).

        Without them the rows of a ``for_each`` source can stream through, one at a time.
        """
        for _, text, _ in _strings(value, ()):
            if not is_template(text) or "loop" not in text:
                continue
            try:
                tree = self._env.parse(text)
            except jinja2.TemplateSyntaxError:
                continue
            names = list(tree.find_all(nodes.Name))
            cheap = [
                node
                for node in tree.find_all(nodes.Getattr)
                if isinstance(node.node, nodes.Name) and node.node.name == "loop" and node.attr in _CHEAP_LOOP
            ]
            if sum(1 for name in names if name.name == "loop") > len(cheap):
                return True
        return False

    def static_problems(self, value: list[Any] | dict[Any, Any]) -> list[RenderProblem] | None:
        """For a tree without templates, its literal-text problems; ``None`` when it holds a template."""
        key = id(value)
        if key in self._static:
            return self._static[key][1]
        problems: list[RenderProblem] | None = []
        for path, text, in_key in _strings(value, ()):
            if is_template(text):
                problems = None
                break
            message = reference_text_problem(text)
            if message is not None and problems is not None:
                problems.append(RenderProblem(path, message, in_key))
        # The tree itself is kept in the cache so that its id cannot be reused by another object.
        self._static[key] = (value, problems)
        return problems


def _strings(value: object, path: tuple[PathStep, ...]) -> Iterator[tuple[tuple[PathStep, ...], str, bool]]:
    """Every string in a tree (keys included) with its path and whether it is a key."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*path, index))
    elif isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str):
                yield (*path, key), key, True
            yield from _strings(child, (*path, key))


def _plain(value: object) -> object:
    value = whole_result(value)
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, LinkValue):
        return Text((value.ref,))
    if isinstance(value, SecretValue):
        return Text((SecretRef(value.name),))
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    if isinstance(value, (tuple, range)):
        return list(value)
    raise TemplateError(f"the expression gives a {type(value).__name__}, which is not data")


def _split(text: str, refs: list[LinkRef | SecretRef]) -> Text:
    pieces = text.split(_SENTINEL)
    if len(pieces) != 2 * len(refs) + 1:
        raise TemplateError("the text holds a NUL character, which cannot be sent")
    parts: list[Part] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            parts.append(refs[int(piece)])
        elif piece:
            parts.append(piece)
    return Text(tuple(parts))


class TreeRenderer:
    """Renders every template inside a value tree (keys included) for one scope."""

    def __init__(self, renderer: Renderer, scope: Mapping[str, object], *, links_allowed: bool) -> None:
        self.renderer = renderer
        self.scope = scope
        self.links_allowed = links_allowed
        self.links: list[LinkUse] = []
        self.secrets: list[str] = []
        self.text_paths: list[tuple[PathStep, ...]] = []
        self.problems: list[RenderProblem] = []

    def render(
        self, value: object, path: tuple[PathStep, ...] = (), where: tuple[PathStep, ...] | None = None
    ) -> object:
        """The rendered copy of ``value``; problems are collected, not raised.

        ``path`` is where a value sits in the rendered tree (links and secrets are found there later),
        ``where`` where it sits in the file (problems point there): they differ under a key that is a
        template.
        """
        where = path if where is None else where
        if isinstance(value, str):
            return self._string(value, path, in_key=False, where=where)
        if isinstance(value, (list, dict)):
            static = self.renderer.static_problems(value)
            if static is not None:
                # No template inside: the value is shared, never copied (nothing mutates it).
                self.problems.extend(RenderProblem((*where, *p.path), p.message, p.in_key) for p in static)
                return value
        if isinstance(value, list):
            return [self.render(child, (*path, index), (*where, index)) for index, child in enumerate(value)]
        if isinstance(value, dict):
            result: dict[object, object] = {}
            for key, child in value.items():
                at = (*where, key)
                new_key = self._string(key, at, in_key=True, where=at) if isinstance(key, str) else key
                if isinstance(new_key, int) and not isinstance(new_key, bool):
                    new_key = str(new_key)
                if isinstance(new_key, Text):
                    what = "a secret" if any(isinstance(p, SecretRef) for p in new_key.parts) else "a link"
                    message = (
                        f"{what} cannot be used in a key: the portal substitutes values only (protocol §4.3)"
                    )
                    self.problems.append(RenderProblem(at, message, True))
                    continue
                if not isinstance(new_key, str):
                    self.problems.append(RenderProblem(at, "a key must render to text", True))
                    continue
                if new_key in result:
                    self.problems.append(RenderProblem(at, f"the key renders to {new_key!r} twice", True))
                    continue
                result[new_key] = self.render(child, (*path, new_key), at)
            return result
        return value

    def _string(
        self, source: str, path: tuple[PathStep, ...], *, in_key: bool, where: tuple[PathStep, ...]
    ) -> object:
        if not is_template(source):
            problem = reference_text_problem(source)
            if problem is not None:
                self.problems.append(RenderProblem(where, problem, in_key))
            return source
        try:
            value = self.renderer.render_string(source, self.scope, links_allowed=self.links_allowed)
        except TemplateError as error:
            of_row = isinstance(error, LookupKeyError)
            self.problems.append(RenderProblem(where, str(error), in_key, of_row))
            return None
        if isinstance(value, Text):
            self._record(value, path, in_key, where)
        else:
            # A single expression may give a whole list or mapping (from vars or a data row).
            for inner, text, inner_key in _strings(value, ()):
                problem = reference_text_problem(text)
                if problem is not None:
                    self.problems.append(RenderProblem((*where, *inner), problem, in_key or inner_key))
        return value

    def _record(
        self, text: Text, path: tuple[PathStep, ...], in_key: bool, where: tuple[PathStep, ...]
    ) -> None:
        if not in_key:
            self.text_paths.append(path)
        parts = text.parts
        for index, part in enumerate(parts):
            if isinstance(part, SecretRef):
                if part.name not in self.secrets:
                    self.secrets.append(part.name)
            elif isinstance(part, LinkRef):
                following = parts[index + 1] if index + 1 < len(parts) else None
                text_follows = following is not None and not (
                    isinstance(following, str) and following[:1].isspace()
                )
                self.links.append(LinkUse(path, part, text_follows))
            else:
                problem = reference_text_problem(part)
                if problem is not None:
                    self.problems.append(RenderProblem(where, problem, in_key))
