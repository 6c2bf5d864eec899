"""What ``plan`` and ``apply`` do once their options are parsed: the portal, planning, one run.

Part of the command-line layer (it prints progress and the summary); ``cli`` reads the environment
and passes what it found, and maps outcomes to exit codes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import click
import requests

from b24sync.client import B24Hook
from b24sync.encoding import encode_command
from b24sync.errors import PortalError, UsageError
from b24sync.executor import Progress, execute
from b24sync.pipeline import load_pipeline
from b24sync.planner import Plan, plan
from b24sync.ratelimit import RateLimit
from b24sync.report import PipelineRef, build_report, format_utc, recorded_results
from b24sync.report_file import read_report, write_atomically, write_report
from b24sync.report_render import render_junit, render_markdown, render_text
from b24sync.state import read_state


class Portal:
    """The portal a command talks to: a webhook, or the built-in emulator (saved on close)."""

    def __init__(self, webhook: str | None, use_emulator: bool, emulator_state: str | None,
                 rate_limit: str | None, missing: str) -> None:
        url = webhook
        if not use_emulator and not url:
            raise UsageError(missing)
        limit = RateLimit.parse(rate_limit or ("off" if use_emulator else "standard"))
        self.emulator: Any = None
        self.emulator_state = emulator_state
        if use_emulator:
            from b24sync.emulator import Emulator

            self.emulator = Emulator(state_path=emulator_state)
            session = self.emulator.mount(requests.Session())
            self.client = B24Hook(self.emulator.webhook_url, session=session, rate_limit=limit)
        else:
            assert url is not None
            self.client = B24Hook.from_webhook_url(url, rate_limit=limit)

    def close(self) -> None:
        self.client.close()
        if self.emulator is not None and self.emulator_state:
            self.emulator.save_state()


def plan_pipeline(source: str, variables: dict[str, str], environ: Mapping[str, str],
                  portal: Callable[[], Portal], allow_delete: bool) -> Plan:
    """Load and plan a pipeline file, reading the portal's records first when it has upsert steps."""
    pipeline = load_pipeline(source, variables=variables, environ=environ)
    if not any(step.spec.upsert is not None for step in pipeline.steps):
        return plan(pipeline)
    return plan(pipeline, read_state(pipeline, portal().client), allow_delete=allow_delete)


class StopFlag:
    """First Ctrl-C: finish the request in flight, then stop. Second: stop now."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopFlag:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        click.echo("\nb24sync: stopping after the request in flight (Ctrl-C again to stop now)", err=True)

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


def load_plan(source: str, variables: dict[str, str], environ: Mapping[str, str],
              portal: Callable[[], Portal], allow_delete: bool) -> Plan:
    if source.endswith(".json"):
        try:
            with open(source, encoding="utf-8") as stream:
                saved = Plan.model_validate_json(stream.read())
            for command in saved.commands():
                if command.query != encode_command(command.method, command.params):  # type: ignore[arg-type]
                    raise UsageError(f"{source}: command {command.key} was edited (its query no longer "
                                     "matches its params): plan the pipeline again instead of editing")
            return saved
        except OSError as error:
            raise UsageError(f"cannot read plan {source}: {error.strerror or error}") from None
        except ValueError as error:
            first = str(error).splitlines()[1:2] or [str(error)]
            raise UsageError(
                f"{source} is not a b24sync plan ({first[0].strip()}): "
                "make one with `b24sync plan FILE --format json --out PLAN.json`"
            ) from None
    return plan_pipeline(source, variables, environ, portal, allow_delete)


def git_commit(path: str) -> str | None:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        found = subprocess.run(
            ["git", "-C", folder, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = found.stdout.strip()
    return commit if found.returncode == 0 and len(commit) == 40 else None


def resume_state(path: str, the_plan: Plan, assume_applied: bool, assume_not_applied: bool
                  ) -> dict[str, Any]:
    """Recorded results to reuse; refuses to guess about steps whose outcome is unknown.

    Upsert commands are left out: their records were just read again, which settles what a lost
    answer left unknown, so they need neither the recorded results nor an --assume flag.
    """
    previous = read_report(path)
    plain = {command.key for command in the_plan.commands() if command.action == "call"}
    recorded = {key: value for key, value in recorded_results(previous).items() if key in plain}
    unknown = [s for s in previous.steps if s.status == "unknown" and s.command_key in plain]
    if unknown and not (assume_applied or assume_not_applied):
        names = ", ".join(s.name for s in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise UsageError(
            f"{len(unknown)} step(s) of {path} have an unknown outcome ({names}): check the portal, then "
            "re-run with --assume-applied (they happened) or --assume-not-applied (send them again)"
        )
    if assume_applied:
        for step in unknown:
            recorded[step.command_key] = None
    return recorded


def run_apply(
    the_plan: Plan,
    client: B24Hook,
    *,
    source: str,
    halt_on_error: bool | None,
    secrets: dict[str, str],
    recorded: dict[str, Any],
    report_path: str,
    junit_path: str | None,
    markdown_path: str | None,
    progress: bool,
) -> tuple[PortalError | None, str]:
    started_wall = datetime.now(timezone.utc)
    started = time.monotonic()
    shown = ProgressLine(sys.stderr.isatty()) if progress else None
    halt = the_plan.halt_on_error if halt_on_error is None else halt_on_error
    pipeline_path = the_plan.pipeline.path
    execution = None
    try:
        with StopFlag() as stop:
            execution = execute(
                the_plan,
                client,
                halt_on_error=halt,
                secrets=secrets,
                recorded=recorded,
                should_stop=stop,
                on_progress=shown,
            )
    finally:
        if shown is not None:
            shown.close()
        if execution is not None:
            report = build_report(
                run_id=uuid.uuid4().hex,
                pipeline=PipelineRef(
                    path=pipeline_path, sha256=the_plan.pipeline.sha256, git_commit=git_commit(source)
                ),
                target=client.redacted_url,
                started_at=format_utc(started_wall),
                finished_at=format_utc(datetime.now(timezone.utc)),
                duration_s=round(time.monotonic() - started, 3),
                steps=execution.steps,
                batches=execution.batches,
                retries=execution.retries,
                limit_wait_s=round(execution.waited_s, 3),
                interrupted=execution.interrupted,
            )
            write_report(report, report_path)
            if junit_path:
                write_atomically(junit_path, render_junit(report), what="JUnit report")
            if markdown_path:
                with open(markdown_path, "a", encoding="utf-8") as stream:
                    stream.write(render_markdown(report) + "\n")
            click.echo(render_text(report, report_path=report_path))
    if execution.fatal is not None:
        click.echo(f"b24sync: error: {execution.fatal}", err=True)
    return execution.fatal, report.status
