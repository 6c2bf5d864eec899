"""What the terminal shows while ``apply`` runs, and the first Ctrl-C that asks it to stop."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from b24sync.run.executor import Progress


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Ctrl-C, a CI job cancelled or a pod stopped (SIGTERM), a terminal closed (SIGHUP)."""


class StopFlag:
    """The first stop signal: finish the request in flight, write the report, then stop. Second: now."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_number: int | None = None
        """The signal that asked to stop, for the exit code (``b24sync.cli.exits.for_signal``)."""
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_number = signum
        again = "Ctrl-C" if signum == signal.SIGINT else "the signal"
        click.echo(f"\nb24sync: stopping after the request in flight ({again} again to stop now)", err=True)

    def __call__(self) -> bool:
        return self.requested


class ProgressLine:
    """A progress bar on a terminal, one line per few batches otherwise."""

    def __init__(self, tty: bool, every: int = 10) -> None:
        self.tty = tty
        self.every = every
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, progress: Progress) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = progress.commands_done / elapsed
        left = progress.commands_total - progress.commands_done
        eta = f"{left / rate:.0f} s" if rate > 0 else "?"
        text = (
            f"batch {progress.batches_done}/{progress.batches_total}, commands "
            f"{progress.commands_done}/{progress.commands_total}, {rate:.0f}/s, "
            f"waited {progress.waited_s:.1f} s for limits, ETA {eta}"
        )
        if self.tty:
            width = 24
            filled = int(width * progress.commands_done / max(progress.commands_total, 1))
            click.echo(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}\033[K", err=True, nl=False)
            self.shown = True
        elif progress.batches_done % self.every == 0 or progress.batches_done == progress.batches_total:
            click.echo(f"b24sync: {text}", err=True)

    def close(self) -> None:
        if self.shown:
            click.echo("", err=True)
