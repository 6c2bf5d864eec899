"""Cutting a plan's batches into windows, for an executor that keeps only what later windows link to.

A window is a run of consecutive batches. Links never cross a request (protocol §4.3 rule 4): a
link into an earlier batch is resolved by b24sync from a stored value (``Link.resolution ==
"client"``), so the value at each linked ``(target, path)`` is all a later window needs of an earlier
one. A window closes at a batch boundary once it holds about ``size`` commands; what it hands on
is ``keep``: the linked values, from its commands or from earlier ones, that a later window still
reads. Everything else of its results can be dropped. The windows only group the batches: the
requests, their order and their commands are exactly those of the one plan.

Pure; the streaming executor (issue 16) is built on it later, after the run journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from b24sync.planning.model import Batch

PathStep = str | int
Stored = tuple[str, tuple[PathStep, ...]]
"""A linked value: the command key of the target and the path in its result."""


@dataclass(frozen=True)
class Window:
    """Consecutive batches, and the linked values later windows still read once it has run."""

    batches: tuple[Batch, ...]
    keep: frozenset[Stored]
    """Values (``(target, path)``) from this window or an earlier one that a later window reads."""
    depended: frozenset[str]
    """Commands of this window or an earlier one that a later command waits for (``depends_on``): only
    their outcome is kept."""

    @property
    def commands(self) -> int:
        """How many commands the window sends."""
        return sum(len(batch.commands) for batch in self.batches)


def last_readers(batches: Sequence[Batch]) -> tuple[dict[Stored, int], dict[str, int]]:
    """For every linked value and every awaited command, the position of the last batch that needs it."""
    values: dict[Stored, int] = {}
    outcomes: dict[str, int] = {}
    for position, batch in enumerate(batches):
        for command in batch.commands:
            for link in command.links:
                if link.resolution == "client":
                    values[(link.target, link.path)] = position
            for target in command.depends_on:
                outcomes[target] = position
    return values, outcomes


def cut_windows(batches: Iterable[Batch], size: int) -> list[Window]:
    """The batches in windows of at least ``size`` commands (the last may be smaller), at batch ends."""
    if size < 1:
        raise ValueError("a window holds at least one command")
    ordered = tuple(batches)
    values, outcomes = last_readers(ordered)
    position_of: dict[str, int] = {}
    windows: list[Window] = []
    start = 0
    filled = 0
    for position, batch in enumerate(ordered):
        for command in batch.commands:
            position_of[command.key] = position
        filled += len(batch.commands)
        if filled < size and position + 1 < len(ordered):
            continue
        # a value stays while a batch after this window reads it and its target has run
        keep = frozenset(
            stored for stored, last in values.items() if last > position and stored[0] in position_of
        )
        depended = frozenset(key for key, last in outcomes.items() if last > position and key in position_of)
        windows.append(Window(ordered[start : position + 1], keep, depended))
        start, filled = position + 1, 0
    return windows
