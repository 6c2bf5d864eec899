"""The time and size budget of template rendering, enforced inside the jinja2 sandbox.

A template comes from a pull request, so ``{{ 10**5000 }}``, ``{{ 'a' * 10**9 }}`` or two nested
``range(100000)`` loops must end as a template error, not a hang or an exhausted memory. Every place
where a template can make work or data passes a check here:

- the operators ``*``, ``**``, ``%`` and ``+`` (intercepted by the sandbox, which also keeps jinja2
  from folding them at compile time) refuse a result over ``TEMPLATE_VALUE`` before computing it;
- every call (functions, methods, macros) and every loop iteration counts one step against
  ``TEMPLATE_STEPS``, and looks at the clock when the renderer was given one;
- string methods and filters that grow text (``center``, ``ljust``, ``replace``, ``join``,
  ``format``, ...) are checked before they run; what every call, operator and filter returns counts
  against ``TEMPLATE_WORK``, and so does every value the template prints.

Literal text printed in a loop is bounded by the step limit, which shrinks for long templates.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from b24sync.pipeline.limits import (
    MAX_DIGITS,
    TEMPLATE_SECONDS,
    TEMPLATE_STEPS,
    TEMPLATE_VALUE,
    TEMPLATE_WIDTH,
    TEMPLATE_WORK,
    TEMPLATES_SECONDS,
)

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")
_BITS_PER_DIGIT = 3.33


class BudgetError(Exception):
    """A template went over its budget; the message says which and what the limit is."""


def size(value: object) -> int:
    """The characters or items of a value, the measure of every size limit."""
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value.bit_length() / _BITS_PER_DIGIT)
    return 1


def _too_big(what: str, amount: float) -> None:
    if amount > TEMPLATE_VALUE:
        raise BudgetError(f"{what} would make a value of more than {TEMPLATE_VALUE:,} characters or items")


def _digits(number: int) -> float:
    return abs(number).bit_length() / _BITS_PER_DIGIT


def _check_number(digits: float) -> None:
    if digits > MAX_DIGITS:
        raise BudgetError(f"the expression gives a number of more than {MAX_DIGITS} digits")


def _check_width(spec: str, what: str) -> None:
    if "*" in spec or "{" in spec:
        raise BudgetError(f"{what}: a width or precision must be written as a number")
    if any(int(number) > TEMPLATE_WIDTH for number in _DIGITS.findall(spec)):
        raise BudgetError(f"{what}: widths and precisions go up to {TEMPLATE_WIDTH:,}")


def check_percent(text: str) -> None:
    """Refuse ``'%099999999d' % x`` before it runs."""
    for match in _PERCENT_SPEC.finditer(text):
        _check_width(match.group(0), "a %-format")


def check_format(text: str) -> None:
    """Refuse ``'{:>99999999}'.format(x)`` before it runs."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format reports the malformed text itself
    for _, _, spec, _ in fields:
        if spec:
            _check_width(spec, "a {}-format")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an intercepted operator whose result would be over the limits, before it is computed."""
    numbers = all(isinstance(v, int) for v in (left, right))
    if operator == "**" and numbers and right > 0:
        _check_number(max(_digits(left), 1.0) * right if abs(left) > 1 else 0)
    elif operator == "*":
        if numbers:
            _check_number(_digits(left) + _digits(right))
        elif isinstance(right, int) and isinstance(left, (str, list, tuple)):
            _too_big("repeating a value", len(left) * right)
        elif isinstance(left, int) and isinstance(right, (str, list, tuple)):
            _too_big("repeating a value", len(right) * left)
    elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        _too_big("joining two values", len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        check_percent(left)


def _join_size(separator: str, items: list[Any]) -> int:
    return len(separator) * max(len(items) - 1, 0) + sum(len(str(item)) for item in items)


def _listed(items: Any) -> list[Any]:
    """The items of what a join would consume (a generator from ``map`` too), read once."""
    if isinstance(items, Mapping):
        return list(items.keys())
    try:
        return list(items)
    except TypeError:
        return []


def check_method(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of a string method whose result would be over the limits, before it runs.

    Returns the arguments to call it with: a ``join`` of a generator gets the generator's items.
    """
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    wrapped = getattr(obj, "__wrapped__", None)  # jinja2 wraps str.format and str.format_map
    if wrapped is not None and isinstance(getattr(wrapped, "__self__", None), str):
        check_format(wrapped.__self__)
        return args
    if not isinstance(owner, str):
        return args
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        _too_big(f"str.{name}", args[0])
    elif name == "expandtabs":
        tab = args[0] if args and isinstance(args[0], int) else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            _too_big("str.expandtabs", len(owner) + owner.count("\t") * tab)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        occurrences = len(owner) + 1 if not args[0] else owner.count(args[0])
        _too_big("str.replace", len(owner) + occurrences * len(args[1]))
    elif name == "join" and args:
        items = _listed(args[0])
        _too_big("str.join", _join_size(owner, items))
        return (items, *args[1:])
    return args


def _int_argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def check_filter(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a filter whose result would be over the limits, before it runs (``args[0]`` is its input).

    Returns the arguments to call it with: a ``join`` of a generator gets the generator's items.
    """
    value = args[0] if args else None
    if name in ("center", "indent"):
        width = _int_argument(args, kwargs, 1, "width")
        if isinstance(width, int):
            lines = str(value).count("\n") + 1 if name == "indent" else 1
            _too_big(f"the {name} filter", size(value) + width * lines)
    elif name in ("batch", "slice"):
        count = _int_argument(args, kwargs, 1, "linecount" if name == "batch" else "slices")
        if isinstance(count, int) and count > TEMPLATE_WIDTH:
            raise BudgetError(f"the {name} filter takes at most {TEMPLATE_WIDTH:,} (not {count:,})")
    elif name == "format" and isinstance(value, str):
        check_percent(value)
    elif name == "join" and args and not isinstance(value, str):
        items = _listed(value)
        separator = _int_argument(args, kwargs, 1, "d")
        _too_big("the join filter", _join_size(separator if isinstance(separator, str) else "", items))
        return (items, *args[1:])
    elif name == "replace" and len(args) >= 3 and isinstance(args[1], str) and isinstance(args[2], str):
        text = str(value)
        occurrences = len(text) + 1 if not args[1] else text.count(args[1])
        _too_big("the replace filter", len(text) + occurrences * len(args[2]))
    return args


class Budget:
    """What one template rendering may still spend; one per renderer, restarted for each rendering."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._total_until: float | None = None
        self.start(0)

    def again(self) -> None:
        """Start the pipeline's total time anew: for a second pass over rows the first pass rendered."""
        self._total_until = None

    def start(self, source_length: int) -> None:
        """A new rendering of a template of ``source_length`` characters begins."""
        # Literal text printed in a loop is not seen here: fewer steps for a long template bound it.
        self.steps_left = min(TEMPLATE_STEPS, max(100, TEMPLATE_WORK // max(source_length, 1)))
        self.work_left = TEMPLATE_WORK
        now = self._clock() if self._clock is not None else 0.0
        if self._clock is not None and self._total_until is None:
            self._total_until = now + TEMPLATES_SECONDS
        self._until = now + TEMPLATE_SECONDS

    def step(self) -> None:
        """One loop iteration or call."""
        self.steps_left -= 1
        if self.steps_left < 0:
            raise BudgetError(
                f"the template makes more than {TEMPLATE_STEPS:,} loop iterations and calls"
                " (or fewer for a long template)"
            )
        if self._clock is not None and self.steps_left % 64 == 0:
            now = self._clock()
            if now > self._until:
                raise BudgetError(f"the template took more than {TEMPLATE_SECONDS:g} s to render")
            if self._total_until is not None and now > self._total_until:
                raise BudgetError(f"the pipeline's templates took more than {TEMPLATES_SECONDS:g} s in all")

    def spend(self, value: Any) -> Any:
        """Count a value the template made; return it."""
        amount = size(value)
        _too_big("the template", amount)
        self.work_left -= amount
        if self.work_left < 0:
            raise BudgetError(f"the template makes more than {TEMPLATE_WORK:,} characters or items in all")
        return value

    def each(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """The items of a loop, one step each."""
        for item in iterable:
            self.step()
            yield item
