"""Selecting steps with dbt's graph syntax: ``contact``, ``contact+``, ``+deal``, ``2+deal``. Pure.

A selector names a step (``*`` and ``?`` match like file names); a ``+`` after it adds every step that
depends on it, a ``+`` before it every step it needs, each through links and ``depends_on`` and as
deep as they go, or ``N`` levels with a number (``contact+1``, ``2+deal``). Selectors separated by
spaces (or given as several options) are a union, joined by commas an intersection
(``contact+,+deal``). ``exclude`` is applied last with the same syntax.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from b24sync.errors import UsageError
from b24sync.pipeline.loader import Pipeline

_SELECTOR = re.compile(r"^(?:(\d*)\+)?([A-Za-z0-9_*?]+)(?:\+(\d*))?$")


@dataclass(frozen=True)
class Selection:
    """The steps a run keeps and those it leaves out, in file order, with the selectors that chose them."""

    kept: tuple[str, ...]
    left_out: tuple[str, ...]
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @property
    def why(self) -> str:
        """The options that made it, as the user would type them."""
        parts = [f"--select {' '.join(self.select)}"] if self.select else []
        parts += [f"--exclude {' '.join(self.exclude)}"] if self.exclude else []
        return " ".join(parts)


def step_graph(pipeline: Pipeline) -> dict[str, set[str]]:
    """For each step id, the steps it needs: the targets of its links and its ``depends_on``."""
    needs: dict[str, set[str]] = {}
    for step in pipeline.steps:
        wanted = set(step.spec.depends_on)
        for instance in step.expansion.instances:
            wanted.update(use.ref.step for use in instance.links)
        wanted.discard(step.spec.id)
        needs[step.spec.id] = wanted
    return needs


def select_steps(pipeline: Pipeline, select: Sequence[str] = (), exclude: Sequence[str] = ()) -> Selection:
    """The steps ``select`` (all when empty) minus ``exclude`` keeps; usage errors name the selector."""
    order = [step.spec.id for step in pipeline.steps]
    needs = step_graph(pipeline)
    select_words = _words(select)
    exclude_words = _words(exclude)
    chosen = _union(select_words, order, needs, "--select") if select_words else set(order)
    chosen -= _union(exclude_words, order, needs, "--exclude") if exclude_words else set()
    if not chosen:
        shown = " ".join(f"{flag} {' '.join(words)}" for flag, words in
                         (("--select", select_words), ("--exclude", exclude_words)) if words)  # fmt: skip
        raise UsageError(f"{shown} leaves no step to run; steps: {', '.join(order)}")
    return Selection(
        kept=tuple(step for step in order if step in chosen),
        left_out=tuple(step for step in order if step not in chosen),
        select=tuple(select_words),
        exclude=tuple(exclude_words),
    )


def _words(values: Iterable[str]) -> list[str]:
    return [word for value in values for word in value.split()]


def _union(words: Sequence[str], order: Sequence[str], needs: Mapping[str, set[str]], flag: str) -> set[str]:
    found: set[str] = set()
    for word in words:
        parts = [_one(part, word, order, needs, flag) for part in word.split(",")]
        found |= set.intersection(*parts)
    return found


def _one(part: str, word: str, order: Sequence[str], needs: Mapping[str, set[str]], flag: str) -> set[str]:
    match = _SELECTOR.match(part)
    if match is None:
        raise UsageError(
            f"{flag} {word}: {part!r} is not a selector; write STEP, STEP+ (and what depends on it), "
            "+STEP (and what it needs), or N+STEP / STEP+N for N levels"
        )
    before, name, after = match.groups()
    roots = {step for step in order if fnmatch.fnmatchcase(step, name)}
    if not roots:
        close = difflib.get_close_matches(name, list(order), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"{flag} {word}: no step {name!r}{hint}; steps: {', '.join(order)}")
    found = set(roots)
    if before is not None:
        found |= _walk(roots, needs, _depth(before))
    if after is not None:
        dependents: dict[str, set[str]] = {step: set() for step in order}
        for step, wanted in needs.items():
            for target in wanted:
                dependents.setdefault(target, set()).add(step)
        found |= _walk(roots, dependents, _depth(after))
    return found


def _depth(text: str) -> int | None:
    return int(text) if text else None


def _walk(roots: set[str], edges: Mapping[str, set[str]], depth: int | None) -> set[str]:
    """Every step reachable from ``roots`` along ``edges`` within ``depth`` hops (all of them for None)."""
    seen: set[str] = set()
    frontier = set(roots)
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        frontier = {nxt for step in frontier for nxt in edges.get(step, ()) if nxt not in seen | roots}
        seen |= frontier
    return seen
