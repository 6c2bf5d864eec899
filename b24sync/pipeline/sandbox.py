"""The jinja2 sandbox of pipeline templates.

Undefined names are errors with a message that says what exists; ``steps.X...`` chains build
``LinkRef`` values instead of reading anything; a static check of the template keeps links and
secrets standing alone as output values, because their values are only known after apply.

The sandbox is immutable (``vars.update(...)`` in one step cannot change ``vars`` for the next) and
every loop, call, operator and filter passes the budget of ``pipeline.budget``.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment

from b24sync.client.webhook import WEBHOOK_VARIABLE
from b24sync.pipeline.budget import Budget, check_binop, check_filter, check_method
from b24sync.pipeline.records import record

PathStep = str | int

TEMPLATE_NAMES = ("vars", "env", "secret", "item", "loop", "steps", "lookups", "row")
_SECRET_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


class TemplateError(Exception):
    """A template that cannot be rendered; the message is meant for the user."""


class LookupKeyError(TemplateError, jinja2.UndefinedError):
    """A lookup has no row of the key a data row asks for: the data row is at fault."""


class LookupTable(dict[str, Any]):
    """The rows of one lookup by key; a missing key is an error naming the closest key."""

    def __init__(self, name: str, rows: Mapping[str, Any]) -> None:
        super().__init__(rows)
        self.name = name

    def missing(self, key: object) -> str:
        """The message for a key that is not there."""
        return f"lookup {self.name!r} has no key {key!r}{suggest(str(key), list(self))}"


def lookup_key(value: object) -> str | None:
    """The text a lookup is keyed by, or ``None`` when ``value`` cannot be a key (null, a list)."""
    if value is None or isinstance(value, (list, dict, bool)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


@record
class LinkRef:
    """A value taken from the result of step ``step`` (instance ``instance``) at ``path``."""

    step: str
    instance: str | None
    path: tuple[PathStep, ...]


@record
class SecretRef:
    """A secret read from the environment when the command is sent."""

    name: str


Part = str | LinkRef | SecretRef


@record
class Text:
    """A string value made of literal text, links and secrets."""

    parts: tuple[Part, ...]


def suggest(name: str, candidates: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or nothing."""
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class StrictNames(jinja2.StrictUndefined):
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
            if name == "row":
                return "undefined name 'row': row exists only in the key of a lookup"
            return f"undefined name {name!r}{suggest(str(name), list(TEMPLATE_NAMES))}"
        if isinstance(obj, Mapping):
            keys = [str(k) for k in obj]
            if not keys:
                return f"no key {name!r} (the mapping is empty)"
            shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
            return f"no key {name!r} (keys: {shown}){suggest(str(name), keys)}"
        if isinstance(obj, list):
            return f"index {name!r} is out of range (the list has {len(obj)} elements)"
        return f"{type(obj).__name__} value has no attribute {name!r}"


@record
class LinkValue:
    """What a ``steps`` chain evaluates to inside a template."""

    ref: LinkRef

    def __str__(self) -> NoReturn:
        raise TemplateError(_after_apply(self.ref.step))


@dataclass(frozen=True)
class SecretValue:
    """What ``secret('NAME')`` evaluates to inside a template."""

    name: str

    def __str__(self) -> NoReturn:
        raise TemplateError("a secret cannot be transformed; use secret('NAME') as a value of its own")


@dataclass(frozen=True)
class StepHandle:
    """``steps.X`` before a path or an instance key is given."""

    step: str
    for_each: bool


def _after_apply(step: str) -> str:
    return (
        f"the result of step {step!r} is only known after apply: "
        "filters, tests, arithmetic and string methods cannot use it; use it as a value of its own"
    )


class Steps:
    """The ``steps`` name: ``steps.X`` for every step id of the pipeline."""

    def __init__(self, for_each: Mapping[str, bool]) -> None:
        self.for_each = for_each

    def lookup(self, name: str) -> StepHandle:
        """The step ``name``; an unknown step is a template error."""
        if name not in self.for_each:
            raise TemplateError(f"unknown step {name!r}{suggest(name, list(self.for_each))}")
        return StepHandle(name, self.for_each[name])


class _BudgetedCode(CodeGenerator):
    """jinja2's code generator, with every loop and every ``~`` going through the budget."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        budgeted = nodes.For(
            node.target,
            nodes.Call(nodes.EnvironmentAttribute("budgeted_loop"), [node.iter], [], None, None),
            node.body,
            node.else_,
            node.test,
            node.recursive,
            lineno=node.lineno,
        )
        budgeted.environment = node.environment
        super().visit_For(budgeted, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        call = nodes.Call(nodes.EnvironmentAttribute("checked_concat"), list(node.nodes), [], None, None)
        if node.environment is not None:
            call.set_environment(node.environment)
        call.set_lineno(node.lineno)
        self.visit_Call(call, frame)


def _budgeted_filter(env: SandboxEnvironment, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that is checked before it runs and whose result counts against the budget."""

    @functools.wraps(function)
    def budgeted(*args: Any, **kwargs: Any) -> Any:
        env.budget.step()
        if getattr(budgeted, "jinja_pass_arg", None) is not None:  # a context or environment comes first
            args = (args[0], *check_filter(name, args[1:], kwargs))
        else:
            args = check_filter(name, args, kwargs)
        return env.budget.spend(function(*args, **kwargs))

    return budgeted


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, taught that ``steps`` chains build links, with the budget of ``pipeline.budget``."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BudgetedCode

    def __init__(self, *args: Any, budget: Budget | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget if budget is not None else Budget()
        self.globals.pop("lipsum", None)  # random text of any length: no use in a pipeline
        self.filters = {name: _budgeted_filter(self, name, f) for name, f in self.filters.items()}

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return self.budget.spend(super().call_binop(context, operator, left, right))

    def call(
        __self,
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        __self.budget.step()
        args = check_method(__obj, args, kwargs)
        return __self.budget.spend(super().call(__context, __obj, *args, **kwargs))

    def budgeted_loop(self, iterable: Any) -> Iterator[Any]:
        """The items of a ``for`` loop, one step each."""
        return self.budget.each(iterable)

    def checked_concat(self, *values: Any) -> str:
        """``a ~ b``: every part is already within the limits, so only the whole is checked."""
        return str(self.budget.spend("".join([str(value) for value in values])))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, (Steps, StepHandle, LinkValue)):
            return _step_access(obj, attribute, by_attribute=True)
        if isinstance(obj, LookupTable) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, (Steps, StepHandle, LinkValue)):
            return _step_access(obj, argument, by_attribute=False)
        if isinstance(obj, LookupTable):
            return self._lookup(obj, argument)
        return super().getitem(obj, argument)

    def _lookup(self, table: LookupTable, argument: Any) -> Any:
        if isinstance(argument, jinja2.Undefined):
            argument._fail_with_undefined_error()
        key = lookup_key(argument)
        if key is not None and key in table:
            return table[key]
        # Undefined, not an error yet: `| default(...)` may still give a value for a missing key.
        return self.undefined(hint=table.missing(argument), obj=table, name=str(argument), exc=LookupKeyError)


def _step_access(obj: Steps | StepHandle | LinkValue, name: Any, *, by_attribute: bool) -> Any:
    if isinstance(obj, Steps):
        return obj.lookup(str(name))
    if isinstance(obj, StepHandle):
        if by_attribute and obj.for_each:
            raise TemplateError(
                f"step {obj.step!r} has for_each: pick an instance with steps.{obj.step}[KEY].{name}"
            )
        if not by_attribute and obj.for_each:
            if isinstance(name, (LinkValue, SecretValue)) or not isinstance(name, (str, int)):
                raise TemplateError("an instance key must be text or a number")
            return LinkValue(LinkRef(obj.step, str(name), ()))
        # Without for_each, steps.X[0] is a path into the result: a bare list (user.get) is indexed
        # directly (protocol §4.3 rule 6).
        return _step_access(LinkValue(LinkRef(obj.step, None, ())), name, by_attribute=by_attribute)
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise TemplateError(f"a path step of a link must be a name or an index, not {name!r}")
    if isinstance(name, str) and (not name or any(c in name for c in "[] \t\r\n")):
        raise TemplateError(f"a path step of a link cannot be {name!r} (protocol §4.3)")
    ref = obj.ref
    return LinkValue(LinkRef(ref.step, ref.instance, (*ref.path, name)))


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


def check_usage(node: nodes.Node, links_allowed: bool) -> None:
    """Links and secrets may only stand alone as an output value: everything else is an error."""
    if isinstance(node, nodes.Output):
        for child in node.nodes:
            if _is_steps_chain(child) or _is_secret_call(child):
                _guard_placement(child, links_allowed)
                for sub in _chain_arguments(child):
                    check_usage(sub, links_allowed)
            else:
                check_usage(child, links_allowed)
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
        check_usage(sub_node, links_allowed)


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


def secret_function(name: object) -> SecretValue:
    """``secret('NAME')``: a marker for the environment variable NAME, never its value."""
    if not isinstance(name, str) or not _SECRET_NAME.match(name):
        raise TemplateError("secret() takes the name of an environment variable, like secret('API_TOKEN')")
    if name == WEBHOOK_VARIABLE:
        raise TemplateError(
            f"secret({name!r}) is refused: it would put the webhook URL, code and all, in the portal's data"
        )
    return SecretValue(name)


def whole_result(value: Any) -> Any:
    """``steps.X`` alone is a link to the whole result of X (protocol §4.3: ``$result[X]``)."""
    if not isinstance(value, StepHandle):
        return value
    if value.for_each:
        raise TemplateError(
            f"step {value.step!r} has for_each: pick an instance with steps.{value.step}[KEY]"
        )
    return LinkValue(LinkRef(value.step, None, ()))
