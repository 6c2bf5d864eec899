"""The ``b24sync`` command line: parses, calls the library, renders, returns an exit code.

Only the command-line layer (this module and ``cli_run``) reads the environment and prints; this
module reads the environment and maps outcomes to exit codes, here and nowhere else.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import click

from b24sync import __version__
from b24sync.cli_run import Portal, load_plan, plan_pipeline, resume_state, run_apply
from b24sync.errors import (
    B24SyncError,
    Interrupted,
    PipelineError,
    PortalError,
    Problem,
    UsageError,
)
from b24sync.linkrules import is_read
from b24sync.pipeline import json_schema
from b24sync.planner import plan_file
from b24sync.plantext import render_changes, render_plan_text

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PORTAL = 3
EXIT_INTERRUPTED = 130

P = ParamSpec("P")
R = TypeVar("R")


def exit_code_for(error: BaseException) -> int:
    """The exit code for an error that ended a command."""
    if isinstance(error, (Interrupted, KeyboardInterrupt)):
        return EXIT_INTERRUPTED
    if isinstance(error, (PipelineError, UsageError)):
        return EXIT_USAGE
    if isinstance(error, PortalError):
        return EXIT_PORTAL
    return EXIT_FAILED


def exit_code_for_run(fatal: BaseException | None, status: str) -> int:
    """The exit code of ``apply``: a fatal portal error, an interruption, or the run's status."""
    if fatal is not None:
        return exit_code_for(fatal)
    if status == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_OK if status == "succeeded" else EXIT_FAILED


def fail(message: str, code: int) -> NoReturn:
    """Print an error to stderr and leave with ``code``."""
    click.echo(message, err=True)
    sys.exit(code)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn b24sync errors into one clear message and the mapped exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PipelineError as error:
            fail(str(error), EXIT_USAGE)
        except B24SyncError as error:
            fail(f"b24sync: error: {error}", exit_code_for(error))
        except KeyboardInterrupt:
            fail("b24sync: interrupted", EXIT_INTERRUPTED)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="b24sync")
def main() -> None:
    """Declarative data sync for Bitrix24: pipelines into batches of 50 with $result links.

    Exit codes: 0 success; 1 the run finished with failed steps; 2 usage error or invalid
    pipeline (nothing sent); 3 the portal could not be reached or refused the credentials;
    130 interrupted.
    """


def _parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--var name=value`` pairs as a mapping; a pair without ``=`` is a usage error."""
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var expects NAME=VALUE, got {pair!r}")
        variables[name.strip()] = value
    return variables


_var_option = click.option(
    "--var",
    "var_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override vars.NAME (repeatable); the value is text.",
)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_var_option
@handles_errors
def validate(files: tuple[str, ...], var_pairs: tuple[str, ...]) -> None:
    """Check pipeline files; print one ok line per valid file, every problem otherwise (exit 2)."""
    variables = _parse_vars(var_pairs)
    problems: list[Problem] = []
    for file in files:
        try:
            plan_file(file, variables=variables, environ=os.environ)
        except PipelineError as error:
            problems.extend(error.problems)
        else:
            click.echo(f"{file}: ok")
    if problems:
        raise PipelineError(problems)


@main.command()
@handles_errors
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of pipeline files, for editors."""
    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))


_portal_options = [
    click.option("--webhook", metavar="URL", help="Webhook URL (default: $B24_WEBHOOK_URL)."),
    click.option("--emulator", "use_emulator", is_flag=True, help="Use the built-in emulator as the portal."),
    click.option("--emulator-state", metavar="FILE", help="Keep the emulator's data in FILE between runs."),
]


def portal_options(command: Callable[P, R]) -> Callable[P, R]:
    """The options that choose a portal, shared by plan and apply."""
    for option in reversed(_portal_options):
        command = option(command)
    return command


NEEDS_STATE = ("upsert steps need the portal's current records: set B24_WEBHOOK_URL, pass --webhook URL, "
               "or try --emulator")


@main.command(name="plan")
@click.argument("file", type=click.Path(dir_okay=False))
@_var_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Text for people, JSON for `b24sync apply PLAN.json`.",
)
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON plan to this file.")
@portal_options
@click.option("--diff", "show_diff", is_flag=True, help="Show each update as field: old -> new.")
@click.option("--allow-delete", is_flag=True, help="Plan the deletes of delete_missing steps.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when nothing would change, 2 when something would, 1 on any error.")
@handles_errors
def plan_command(file: str, var_pairs: tuple[str, ...], output_format: str, out: str | None,
                 webhook: str | None, use_emulator: bool, emulator_state: str | None, show_diff: bool,
                 allow_delete: bool, detailed_exitcode: bool) -> None:
    """Show what apply would send: batches, commands, how every link is resolved, and for upsert
    steps what would be created, updated, left unchanged or deleted (reading the portal).

    \b
    Exit codes: 0 planned; 2 invalid pipeline or usage error; 3 the portal could not be read.
    With --detailed-exitcode: 0 nothing would change; 2 something would change; 1 any error
    (an invalid pipeline, the portal, or an upsert instance matching several records).
    """
    try:
        code = _plan_command(file, var_pairs, output_format, out, webhook, use_emulator, emulator_state,
                             show_diff, allow_delete)
    except B24SyncError as error:
        if not detailed_exitcode:
            raise
        fail(str(error) if isinstance(error, PipelineError) else f"b24sync: error: {error}", EXIT_FAILED)
    if detailed_exitcode:
        sys.exit(code)


def _plan_command(file: str, var_pairs: tuple[str, ...], output_format: str, out: str | None,
                  webhook: str | None, use_emulator: bool, emulator_state: str | None, show_diff: bool,
                  allow_delete: bool) -> int:
    opened: list[Portal] = []

    def portal() -> Portal:
        url = webhook or os.environ.get("B24_WEBHOOK_URL")
        opened.append(Portal(url, use_emulator, emulator_state, None, NEEDS_STATE))
        return opened[-1]

    try:
        the_plan = plan_pipeline(file, _parse_vars(var_pairs), os.environ, portal, allow_delete)
    finally:
        for each in opened:
            each.close()
    document = the_plan.model_dump_json(indent=2) + "\n"
    if out is not None:
        try:
            with open(out, "w", encoding="utf-8") as stream:
                stream.write(document)
        except OSError as error:
            raise UsageError(f"cannot write {out}: {error.strerror or error}") from None
    if output_format == "json":
        click.echo(document, nl=False)
    else:
        click.echo(render_plan_text(the_plan) + render_changes(the_plan, show_diff), nl=False)
    if any(unsent.action == "conflict" for unsent in the_plan.unsent):
        return EXIT_FAILED
    changes = any(not is_read(command.method) for command in the_plan.commands())
    return 2 if changes else EXIT_OK


# -- apply ----------------------------------------------------------------------------------------

NO_PORTAL = "no portal: set B24_WEBHOOK_URL, pass --webhook URL, or try --emulator"


@main.command()
@click.argument("source", metavar="PIPELINE.yaml|PLAN.json")
@portal_options
@_var_option
@click.option(
    "--report",
    "report_path",
    default="b24sync-report.json",
    show_default=True,
    help="Where to write the JSON run report.",
)
@click.option("--junit", "junit_path", metavar="PATH", help="Also write JUnit XML.")
@click.option(
    "--markdown",
    "markdown_path",
    metavar="PATH",
    help="Also write a Markdown summary (default: append to $GITHUB_STEP_SUMMARY when set).",
)
@click.option(
    "--halt-on-error/--continue-on-error",
    default=None,
    help="Stop at the first failed step (default: the pipeline's setting, else halt).",
)
@click.option("--resume", "resume_path", metavar="REPORT", help="Run only what did not succeed in REPORT.")
@click.option("--assume-applied", is_flag=True, help="With --resume: steps of unknown outcome happened.")
@click.option(
    "--assume-not-applied", is_flag=True, help="With --resume: send steps of unknown outcome again."
)
@click.option(
    "--rate-limit",
    metavar="LIMIT",
    help="standard (50 burst, 2/s; the default), enterprise (250, 5/s), off (the default with "
    "--emulator), or BURST/RATE.",
)
@click.option("--allow-delete", is_flag=True, help="Run the deletes of delete_missing steps.")
@click.option("--progress/--no-progress", default=True, help="Show progress on stderr.")
@handles_errors
def apply(
    source: str,
    webhook: str | None,
    use_emulator: bool,
    emulator_state: str | None,
    var_pairs: tuple[str, ...],
    report_path: str,
    junit_path: str | None,
    markdown_path: str | None,
    halt_on_error: bool | None,
    resume_path: str | None,
    assume_applied: bool,
    assume_not_applied: bool,
    rate_limit: str | None,
    allow_delete: bool,
    progress: bool,
) -> None:
    """Run a pipeline (or a saved plan) against a portal and write a run report.

    \b
    Exit codes:
      0    every step succeeded
      1    the run finished with failed, skipped, not-run or unknown steps
      2    usage error or invalid pipeline (nothing was sent)
      3    the portal could not be reached or refused the credentials
      130  interrupted (the report is still written)
    """
    if assume_applied and assume_not_applied:
        raise UsageError("choose one of --assume-applied and --assume-not-applied")
    url = webhook or os.environ.get("B24_WEBHOOK_URL")
    portal = Portal(url, use_emulator, emulator_state, rate_limit, NO_PORTAL)
    try:
        the_plan = load_plan(source, _parse_vars(var_pairs), os.environ, lambda: portal, allow_delete)
        recorded = (resume_state(resume_path, the_plan, assume_applied, assume_not_applied)
                    if resume_path else {})
        names = sorted({name for command in the_plan.commands() for name in command.secrets})
        missing = [name for name in names if name not in os.environ]
        if missing:
            raise UsageError(f"secret {missing[0]} is not set: export it in the environment before applying")
        fatal, status = run_apply(
            the_plan,
            portal.client,
            source=source,
            halt_on_error=halt_on_error,
            secrets={name: os.environ[name] for name in names},
            recorded=recorded,
            report_path=report_path,
            junit_path=junit_path,
            markdown_path=markdown_path or os.environ.get("GITHUB_STEP_SUMMARY") or None,
            progress=progress,
        )
    finally:
        portal.close()
    sys.exit(exit_code_for_run(fatal, status))


# -- emulator -------------------------------------------------------------------------------------


@main.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8024,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one.",
)
@click.option("--token", default="emulator-token", show_default=True, help="The webhook code to accept.")
@click.option(
    "--state",
    "state",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file: loaded at start, saved atomically on SIGINT/SIGTERM.",
)
@click.option(
    "--rate-limit",
    default="off",
    show_default=True,
    help="Leaky bucket: standard (50, 2/s), enterprise (250, 5/s), off, or BURST/RATE.",
)
@click.option(
    "--operating-limit",
    default=480.0,
    show_default=True,
    type=float,
    help="Seconds of operating time per method per ten minutes.",
)
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Milliseconds added to every request.",
)
@click.option(
    "--fail-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of requests answered by an HTML 500/502 without processing.",
)
@click.option(
    "--drop-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of requests processed, then closed without an answer.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the injected faults.")
@click.option("--tls", is_flag=True, help="Serve https with a self-signed certificate made at start.")
@click.option(
    "--scopes",
    metavar="LIST",
    default=None,
    help="The webhook's scopes, comma-separated, from crm, task, user, user_basic, user_brief "
    "(default: all); methods outside them answer 401 insufficient_scope.",
)
@handles_errors
def emulator_command(
    host: str,
    port: int,
    token: str,
    state: str | None,
    rate_limit: str,
    operating_limit: float,
    latency: float,
    fail_rate: float,
    drop_rate: float,
    seed: int,
    tls: bool,
    scopes: str | None,
) -> None:
    """Run an offline Bitrix24 portal; the first line printed is its webhook URL."""
    import threading

    from b24sync.emulator import Emulator, EmulatorError
    from b24sync.emulator.server import EmulatorServer

    try:
        emulator = Emulator(
            token=token,
            rate_limit=rate_limit,
            operating_limit=operating_limit,
            latency_ms=latency,
            fail_rate=fail_rate,
            drop_rate=drop_rate,
            seed=seed,
            state_path=state,
            scopes=scopes,
        )
        server = EmulatorServer(emulator, host, port, tls)
        server.start()
    except EmulatorError as error:
        raise UsageError(str(error)) from error
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda number, frame: stop.set())
    click.echo(server.webhook_url)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if state is not None:
            try:
                emulator.save_state()
            except EmulatorError as error:
                raise B24SyncError(str(error)) from error
