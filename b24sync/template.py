"""Sandboxed jinja2 rendering of pipeline values; step references become links, not values.

A string holding ``{{`` or ``{%`` is a template. When the whole string is one ``{{ expression }}``
its value keeps its type (``"{{ vars.n }}"`` stays an int); any other template renders to text.
``steps.X.path`` and ``steps.X[KEY].path`` are only known after apply, so they render to a
``LinkRef`` inside a ``Text`` value (the planner turns it into a ``$result[...]`` marker);
``secret('NAME')`` renders to a ``SecretRef`` (the executor substitutes it at send time).
Rendering is pure: the environment is passed in as a mapping.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

PathStep = str | int

TEMPLATE_NAMES = ("vars", "env", "secret", "item", "loop", "steps")
_TEMPLATE_START = ("{{", "{%", "{#")
_SINGLE = re.compile(r"\A\{\{-?(.*?)-?\}\}\Z", re.DOTALL)
_SENTINEL = "\x00"
_SECRET_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
# reference §4.1: the portal substitutes these prefixes (matched case-insensitively) in every value.
_REFERENCE_TEXT = re.compile(r"\$(result|next|total|time|error|secret)\[", re.IGNORECASE)


class TemplateError(Exception):
    """A template that cannot be rendered; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class LinkRef:
    """A value taken from the result of step ``step`` (instance ``instance``) at ``path``."""

    step: str
    instance: str | None
    path: tuple[PathStep, ...]

    def display(self) -> str:
        """``company.item.id`` or ``contact[ann@x.org].item.id``."""
        head = self.step if self.instance is None else f"{self.step}[{self.instance}]"
        return head + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A secret read from the environment when the command is sent."""

    name: str


Part = str | LinkRef | SecretRef


@dataclass(frozen=True, slots=True)
class Text:
    """A string value made of literal text, links and secrets."""

    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class LinkUse:
    """Where a link sits in a rendered value and what surrounds it (reference §4.3 decides safety)."""

    path: tuple[PathStep, ...]
    ref: LinkRef
    whole: bool
    text_follows: bool


@dataclass(frozen=True)
class Rendered:
    """A rendered value tree plus the links and secrets it uses."""

    value: object
    links: tuple[LinkUse, ...] = ()
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderProblem:
    """A template problem at ``path`` (relative to the rendered tree)."""

    path: tuple[PathStep, ...]
    message: str
    in_key: bool = False


def is_template(text: str) -> bool:
    """Whether a string is a template rather than literal text."""
    return "{" in text and any(mark in text for mark in _TEMPLATE_START)


def reference_text_problem(text: str) -> str | None:
    """A message when literal text would be read by the portal as a reference."""
    if "$" not in text:
        return None
    found = _REFERENCE_TEXT.search(text)
    if found is None:
        return None
    return (
        f"the text {found.group(0)!r} would be read by the portal as a reference "
        "(reference §4.1); it cannot be sent literally"
    )


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Undefined(jinja2.StrictUndefined):
    """Undefined values are errors, with a message that says what exists."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        name = self._undefined_name
        obj = self._undefined_obj
        if self._undefined_hint:
            return self._undefined_hint
        if obj is jinja2.utils.missing:
            if name in ("item", "loop"):
                return f"undefined name {name!r}: item and loop exist only in a step with for_each"
            return f"undefined name {name!r}{_suggest(str(name), list(TEMPLATE_NAMES))}"
        if isinstance(obj, Mapping):
            keys = [str(k) for k in obj]
            if not keys:
                return f"no key {name!r} (the mapping is empty)"
            shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
            return f"no key {name!r} (keys: {shown}){_suggest(str(name), keys)}"
        if isinstance(obj, list):
            return f"index {name!r} is out of range (the list has {len(obj)} elements)"
        return f"{type(obj).__name__} value has no attribute {name!r}"


@dataclass(frozen=True)
class _LinkValue:
    ref: LinkRef

    def __str__(self) -> NoReturn:
        raise TemplateError(_after_apply(self.ref.step))


@dataclass(frozen=True)
class _SecretValue:
    name: str

    def __str__(self) -> NoReturn:
        raise TemplateError("a secret cannot be transformed; use secret('NAME') as a value of its own")


@dataclass(frozen=True)
class _StepHandle:
    step: str
    for_each: bool


def _after_apply(step: str) -> str:
    return (
        f"the result of step {step!r} is only known after apply: "
        "filters, tests, arithmetic and string methods cannot use it; use it as a value of its own"
    )


class _Steps:
    """The ``steps`` name: ``steps.X`` for every step id of the pipeline."""

    def __init__(self, for_each: Mapping[str, bool]) -> None:
        self.for_each = for_each

    def lookup(self, name: str) -> _StepHandle:
        if name not in self.for_each:
            raise TemplateError(f"unknown step {name!r}{_suggest(name, list(self.for_each))}")
        return _StepHandle(name, self.for_each[name])


class _Environment(SandboxedEnvironment):
    """The sandbox, taught that ``steps`` chains build links."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, (_Steps, _StepHandle, _LinkValue)):
            return _step_access(obj, attribute, by_attribute=True)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, (_Steps, _StepHandle, _LinkValue)):
            return _step_access(obj, argument, by_attribute=False)
        return super().getitem(obj, argument)


def _step_access(obj: _Steps | _StepHandle | _LinkValue, name: Any, *, by_attribute: bool) -> Any:
    if isinstance(obj, _Steps):
        return obj.lookup(str(name))
    if isinstance(obj, _StepHandle):
        if by_attribute and obj.for_each:
            raise TemplateError(
                f"step {obj.step!r} has for_each: pick an instance with steps.{obj.step}[KEY].{name}"
            )
        if not by_attribute:
            if not obj.for_each:
                raise TemplateError(f"step {obj.step!r} has no for_each: use steps.{obj.step}.PATH")
            if isinstance(name, (_LinkValue, _SecretValue)) or not isinstance(name, (str, int)):
                raise TemplateError("an instance key must be text or a number")
            return _LinkValue(LinkRef(obj.step, str(name), ()))
        return _LinkValue(LinkRef(obj.step, None, (name,)))
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise TemplateError(f"a path step of a link must be a name or an index, not {name!r}")
    if isinstance(name, str) and (not name or any(c in name for c in "[] \t\r\n")):
        raise TemplateError(f"a path step of a link cannot be {name!r} (reference §4.3)")
    ref = obj.ref
    return _LinkValue(LinkRef(ref.step, ref.instance, (*ref.path, name)))


def _chain_root(start: nodes.Node) -> nodes.Node:
    node: nodes.Node = start
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        node = node.node
    return node


def _is_steps_chain(node: nodes.Node) -> bool:
    root = _chain_root(node)
    return (
        isinstance(node, (nodes.Getattr, nodes.Getitem))
        and isinstance(root, nodes.Name)
        and (root.name == "steps")
    )


def _is_secret_call(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "secret"


def _check_usage(node: nodes.Node, links_allowed: bool) -> None:
    """Links and secrets may only stand alone as an output value: everything else is an error."""
    if isinstance(node, nodes.Output):
        for child in node.nodes:
            if _is_steps_chain(child) or _is_secret_call(child):
                _guard_placement(child, links_allowed)
                for sub in _chain_arguments(child):
                    _check_usage(sub, links_allowed)
            else:
                _check_usage(child, links_allowed)
        return
    if _is_steps_chain(node) or (isinstance(node, nodes.Name) and node.name == "steps"):
        _guard_placement(node, links_allowed)
        raise TemplateError(_after_apply(_chain_step(node)))
    if _is_secret_call(node):
        raise TemplateError(
            "secret('NAME') must be a value of its own: it cannot be transformed or compared"
            if links_allowed
            else "secret('NAME') can only be used in params"
        )
    for sub_node in node.iter_child_nodes():
        _check_usage(sub_node, links_allowed)


def _guard_placement(node: nodes.Node, links_allowed: bool) -> None:
    if links_allowed:
        return
    if _is_secret_call(node):
        raise TemplateError("secret('NAME') can only be used in params")
    raise TemplateError(
        f"the result of step {_chain_step(node)!r} is only known after apply: only params can use it"
    )


def _chain_step(start: nodes.Node) -> str:
    """The step id of a ``steps.X...`` chain, or ``X`` when it cannot be told."""
    step = "X"
    node: nodes.Node = start
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            step = node.attr
        elif isinstance(node.arg, nodes.Const):
            step = str(node.arg.value)
        node = node.node
    return step


def _chain_arguments(start: nodes.Node) -> Iterator[nodes.Node]:
    node: nodes.Node = start
    if isinstance(node, nodes.Call):
        yield from node.args
        yield from node.kwargs
        return
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getitem):
            yield node.arg
        node = node.node


_Fast = Callable[[Mapping[str, Any]], Any]
"""A compiled simple expression: evaluated without building a jinja context, which is much faster."""

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "gt": operator.gt,
    "lteq": operator.le,
    "gteq": operator.ge,
    "in": lambda left, right: left in right,
    "notin": lambda left, right: left not in right,
}


def _defined(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


@dataclass
class _Compiled:
    single: Callable[..., Any] | None = None
    template: jinja2.Template | None = None
    fast: _Fast | None = None
    pieces: tuple[str | _Fast, ...] | None = None
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
    ) -> None:
        self._environ = environ
        self._env = _Environment(
            undefined=_Undefined,
            finalize=self._finalize,
            autoescape=False,
            keep_trailing_newline=True,
        )
        self._base: dict[str, Any] = {
            "vars": dict(variables),
            "env": self._env_function,
            "secret": _secret_function,
            "steps": _Steps(step_for_each),
        }
        self._cache: dict[tuple[str, bool], _Compiled] = {}
        self._static: dict[int, tuple[object, list[RenderProblem] | None]] = {}

    @jinja2.pass_context
    def _finalize(self, context: jinja2.runtime.Context, value: Any) -> Any:
        value = _whole_result(value)
        if isinstance(value, _LinkValue | _SecretValue):
            collector: _Collector = context["_collector"]
            collector.refs.append(value.ref if isinstance(value, _LinkValue) else SecretRef(value.name))
            return f"{_SENTINEL}{len(collector.refs) - 1}{_SENTINEL}"
        return value

    def _env_function(self, name: object, default: object = jinja2.utils.missing) -> object:
        if not isinstance(name, str):
            raise TemplateError("env() takes the name of an environment variable")
        if name in self._environ:
            return self._environ[name]
        if default is jinja2.utils.missing:
            raise TemplateError(
                f"environment variable {name!r} is not set (give a default: env({name!r}, 'value'))"
            )
        return default

    def compile(self, source: str, links_allowed: bool) -> _Compiled:
        """Compile ``source`` once; syntax and usage errors are remembered, not raised."""
        cached = self._cache.get((source, links_allowed))
        if cached is not None:
            return cached
        compiled = _Compiled()
        try:
            tree = self._env.parse(source)
            _check_usage(tree, links_allowed)
            body = tree.body
            single = _SINGLE.match(source)
            outputs = body[0].nodes if len(body) == 1 and isinstance(body[0], nodes.Output) else None
            fast = [self._fast(n) for n in outputs] if outputs is not None else []
            if (
                single is not None
                and outputs is not None
                and len(outputs) == 1
                and not isinstance(outputs[0], nodes.TemplateData)
            ):
                compiled.fast = fast[0]
                compiled.single = self._env.compile_expression(single.group(1), undefined_to_none=False)
            else:
                compiled.template = self._env.from_string(tree)
                if outputs is not None and all(
                    f is not None or isinstance(node, nodes.TemplateData)
                    for f, node in zip(fast, outputs, strict=True)
                ):
                    compiled.pieces = tuple(
                        f if f is not None else str(getattr(node, "data", ""))
                        for f, node in zip(fast, outputs, strict=True)
                    )
        except jinja2.TemplateSyntaxError as error:
            compiled.error = f"template syntax error: {error.message}"
        except TemplateError as error:
            compiled.error = str(error)
        self._cache[(source, links_allowed)] = compiled
        return compiled

    def render_string(
        self, source: str, scope: Mapping[str, object], *, links_allowed: bool = False
    ) -> object:
        """Render one template; a single expression keeps its type. Raises ``TemplateError``."""
        compiled = self.compile(source, links_allowed)
        if compiled.error is not None:
            raise TemplateError(compiled.error)
        try:
            if compiled.fast is not None:
                return _plain(compiled.fast(scope))
            if compiled.pieces is not None:
                return _concatenate(compiled.pieces, scope)
        except TemplateError:
            raise
        except jinja2.TemplateError as error:
            raise TemplateError(error.message or type(error).__name__) from None
        except Exception as error:  # a user's expression failed (1 < 'a', ...)
            raise TemplateError(f"{type(error).__name__}: {error}") from None
        context = {**self._base, **scope}
        try:
            if compiled.single is not None:
                return _plain(compiled.single(**context))
            collector = _Collector()
            context["_collector"] = collector
            assert compiled.template is not None
            text = compiled.template.render(context)
        except TemplateError:
            raise
        except jinja2.TemplateError as error:
            raise TemplateError(error.message or type(error).__name__) from None
        except Exception as error:  # a user's expression failed (1 / 0, int('x'), ...)
            raise TemplateError(f"{type(error).__name__}: {error}") from None
        if not collector.refs:
            return text
        return _split(text, collector.refs)

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

    def _fast(self, node: nodes.Node) -> _Fast | None:
        """Compile names, attribute and item access, constants, comparisons, not/and/or; else ``None``."""
        if isinstance(node, nodes.Const):
            constant = node.value
            return lambda scope: constant
        if isinstance(node, nodes.Name):
            return None if node.name in ("env", "secret") else self._lookup(node.name)
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            inner = self._fast(node.node)
            if inner is None:
                return None
            if isinstance(node, nodes.Getattr):
                attribute, get_attribute = node.attr, self._env.getattr
                return lambda scope: get_attribute(inner(scope), attribute)
            argument, get_item = self._fast(node.arg), self._env.getitem
            if argument is None:
                return None
            return lambda scope: get_item(inner(scope), argument(scope))
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op in _COMPARE:
            left, right, compare = (
                self._fast(node.expr),
                self._fast(node.ops[0].expr),
                _COMPARE[node.ops[0].op],
            )
            if left is None or right is None:
                return None
            return lambda scope: compare(_defined(left(scope)), _defined(right(scope)))
        if isinstance(node, nodes.Not):
            operand = self._fast(node.node)
            return None if operand is None else (lambda scope: not _defined(operand(scope)))
        if isinstance(node, (nodes.And, nodes.Or)):
            first, second = self._fast(node.left), self._fast(node.right)
            if first is None or second is None:
                return None
            if isinstance(node, nodes.And):
                return lambda scope: _defined(first(scope)) and second(scope)
            return lambda scope: _defined(first(scope)) or second(scope)
        return None

    def _lookup(self, name: str) -> _Fast:
        base = self._base

        def lookup(scope: Mapping[str, Any]) -> Any:
            if name in scope:
                return scope[name]
            if name in base:
                return base[name]
            return _Undefined(name=name)

        return lookup


def _concatenate(pieces: tuple[str | _Fast, ...], scope: Mapping[str, Any]) -> object:
    """A text template made of literal text and compiled expressions."""
    parts: list[Part] = []
    text: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            text.append(piece)
            continue
        value = _whole_result(_defined(piece(scope)))
        if isinstance(value, _LinkValue | _SecretValue):
            if text:
                parts.append("".join(text))
                text = []
            parts.append(value.ref if isinstance(value, _LinkValue) else SecretRef(value.name))
        else:
            text.append(str(value))
    if not parts:
        return "".join(text)
    if text:
        parts.append("".join(text))
    return Text(tuple(parts))


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


def _secret_function(name: object) -> _SecretValue:
    if not isinstance(name, str) or not _SECRET_NAME.match(name):
        raise TemplateError("secret() takes the name of an environment variable, like secret('API_TOKEN')")
    return _SecretValue(name)


def _whole_result(value: Any) -> Any:
    """``steps.X`` alone is a link to the whole result of X (reference §4.3: ``$result[X]``)."""
    if not isinstance(value, _StepHandle):
        return value
    if value.for_each:
        raise TemplateError(
            f"step {value.step!r} has for_each: pick an instance with steps.{value.step}[KEY]"
        )
    return _LinkValue(LinkRef(value.step, None, ()))


def _plain(value: object) -> object:
    value = _whole_result(value)
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, _LinkValue):
        return Text((value.ref,))
    if isinstance(value, _SecretValue):
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
        self.problems: list[RenderProblem] = []

    def render(self, value: object, path: tuple[PathStep, ...] = ()) -> object:
        """The rendered copy of ``value``; problems are collected, not raised."""
        if isinstance(value, str):
            return self._string(value, path, in_key=False)
        if isinstance(value, (list, dict)):
            static = self.renderer.static_problems(value)
            if static is not None:
                # No template inside: the value is shared, never copied (nothing mutates it).
                self.problems.extend(RenderProblem((*path, *p.path), p.message, p.in_key) for p in static)
                return value
        if isinstance(value, list):
            return [self.render(child, (*path, index)) for index, child in enumerate(value)]
        if isinstance(value, dict):
            result: dict[object, object] = {}
            for key, child in value.items():
                new_key = self._string(key, (*path, key), in_key=True) if isinstance(key, str) else key
                if isinstance(new_key, int) and not isinstance(new_key, bool):
                    new_key = str(new_key)
                if isinstance(new_key, Text):
                    what = "a secret" if any(isinstance(p, SecretRef) for p in new_key.parts) else "a link"
                    message = (
                        f"{what} cannot be used in a key: the portal substitutes values only (reference §4.3)"
                    )
                    self.problems.append(RenderProblem((*path, key), message, True))
                    continue
                if not isinstance(new_key, (str, Text)):
                    self.problems.append(RenderProblem((*path, key), "a key must render to text", True))
                    continue
                result[new_key] = self.render(child, (*path, key))
            return result
        return value

    def _string(self, source: str, path: tuple[PathStep, ...], *, in_key: bool) -> object:
        if not is_template(source):
            problem = reference_text_problem(source)
            if problem is not None:
                self.problems.append(RenderProblem(path, problem, in_key))
            return source
        try:
            value = self.renderer.render_string(source, self.scope, links_allowed=self.links_allowed)
        except TemplateError as error:
            self.problems.append(RenderProblem(path, str(error), in_key))
            return None
        if isinstance(value, Text):
            self._record(value, path, in_key)
        elif isinstance(value, str):
            problem = reference_text_problem(value)
            if problem is not None:
                self.problems.append(RenderProblem(path, problem, in_key))
        return value

    def _record(self, text: Text, path: tuple[PathStep, ...], in_key: bool) -> None:
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
                self.links.append(LinkUse(path, part, len(parts) == 1, text_follows))
            else:
                problem = reference_text_problem(part)
                if problem is not None:
                    self.problems.append(RenderProblem(path, problem, in_key))
