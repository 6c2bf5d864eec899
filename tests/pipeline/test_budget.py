"""Hostile templates end as template errors within their budget: no hang, no memory blow-up."""

from __future__ import annotations

import time

import pytest

from b24sync.pipeline.budget import Budget
from b24sync.pipeline.template import Renderer, TemplateError


def renderer() -> Renderer:
    return Renderer(
        variables={"x": 1, "l": [1, 2]}, environ={}, step_for_each={}, budget=Budget(time.monotonic)
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 10**5000 }}", "more than 1000 digits"),
        ("x{{ 10**5000 }}", "more than 1000 digits"),
        ("{{ (10**900) * (10**900) }}", "more than 1000 digits"),
        ("{{ 'a' * 10**9 }}", "more than 1,000,000 characters"),
        ("{{ [1] * 10**9 }}", "more than 1,000,000 characters"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "loop iterations",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "1,000,000",
        ),
        ("{% for i in range(99999) %}{{ 'x' * 1000 }}{% endfor %}", "16,000,000 characters or items in all"),
        ("{{ 'x'|center(1000000000) }}", "center filter"),
        ("{{ 'x'|indent(10**9) }}", "indent filter"),
        ("{{ range(10)|batch(10**9, 'x')|list }}", "batch filter"),
        ("{{ range(10)|slice(10**9)|list }}", "slice filter"),
        ("{{ '%0999999999d' % 1 }}", "widths and precisions go up to 10,000"),
        ("{{ '%*d' % (10**9, 1) }}", "written as a number"),
        ("{{ '{:>999999999}'.format(1) }}", "widths and precisions"),
        ("{{ 'x'.ljust(10**9) }}", "str.ljust"),
        ("{{ 'a\tb'.expandtabs(10**9) }}", "str.expandtabs"),
        ("{{ ('x' * 100000).join(['a'] * 20000) }}", "str.join"),
        ("{{ range(100000)|map('string')|join('x' * 100000) }}", "loop iterations"),
        ("{{ lipsum(10**9) }}", "undefined name 'lipsum'"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "calls itself too deeply"),
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nests too deeply"),
        # jinja2 folds constants while compiling; the sandbox refused this one then, uncaught
        ("{{ 1 if ''.__class__ else 2 }}", "unsafe"),
    ],
)
def test_a_hostile_template_is_a_template_error(source: str, message: str) -> None:
    started = time.process_time()
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace("*", r"\*")):
        renderer().render_string(source, {})
    assert time.process_time() - started < 5  # generous: a regression hangs for minutes


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 2**10 }}", 1024),
        ("{{ 'a' ~ 'b' }}", "ab"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ '{:,}'.format(1234567) }}", "1,234,567"),
        ("{{ '%05.1f' % 2.25 }}", "002.2"),
        ("{{ range(3)|join(',') }}", "0,1,2"),
        ("{{ 'x' * 3 }}", "xxx"),
        ("{{ vars.l + [3] }}", [1, 2, 3]),
    ],
)
def test_ordinary_templates_are_untouched(source: str, expected: object) -> None:
    assert renderer().render_string(source, {}) == expected


def test_the_sandbox_is_immutable_so_one_step_cannot_change_vars_for_the_next() -> None:
    shared = renderer()
    with pytest.raises(TemplateError, match="'update' of 'dict' object is unsafe"):
        shared.render_string("{{ vars.update({'x': 2}) }}", {})
    with pytest.raises(TemplateError, match="unsafe"):
        shared.render_string("{{ vars.l.append(3) }}", {})
    assert shared.render_string("{{ vars.x }}-{{ vars.l }}", {}) == "1-[1, 2]"


def test_the_total_time_of_a_pipeline_is_bounded_too() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every look at the clock is a second later
        return now[0]

    slow = Renderer(variables={}, environ={}, step_for_each={}, budget=Budget(clock))
    with pytest.raises(TemplateError, match="took more than"):
        slow.render_string("{% for i in range(1000) %}{{ i }}{% endfor %}", {})
