"""The ``b24sync`` commands: parse the options, call ``b24sync.run``, render, return an exit code.

Only this package reads the environment and prints. Exit codes come from ``b24sync.cli.exits``.
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

from b24sync.cli import exits
from b24sync.cli.output import current_output, start_output
from b24sync.cli.progress import ProgressLine, StopFlag
from b24sync.client.webhook import WEBHOOK_VARIABLE, check_webhook_url
from b24sync.errors import B24SyncError, PipelineError, Problem, UsageError
from b24sync.pipeline.models import json_schema
from b24sync.planning.planner import plan_file
from b24sync.planning.text import render_changes, render_plan_text
from b24sync.report.files import write_output
from b24sync.report.render import render_text
from b24sync.run.portal import Portal
from b24sync.run.resume import Assume
from b24sync.run.workflow import apply as apply_run
from b24sync.run.workflow import plan as plan_run
from b24sync.run.workflow import plan_json
from b24sync.version import __version__

P = ParamSpec("P")
R = TypeVar("R")

NO_PORTAL = "no portal: set B24_WEBHOOK_URL, pass --webhook URL, or try --emulator"
NEEDS_STATE = (
    "upsert steps need the portal's current records: set B24_WEBHOOK_URL, pass --webhook URL, "
    "or try --emulator"
)


def fail(message: str, code: int) -> NoReturn:
    """Print an error to stderr (redacted, like everything printed) and leave with ``code``."""
    current_output(os.environ).echo(message, err=True)
    sys.exit(code)


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print a text through the command's redactor."""
    current_output(os.environ).echo(text, err=err, nl=nl)


def error_text(error: B24SyncError) -> str:
    """How an error that ended a command is printed: pipeline problems as they are, others prefixed."""
    return str(error) if isinstance(error, PipelineError) else f"b24sync: error: {error}"


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn b24sync errors into one clear message and the mapped exit code, never a traceback.

    Every message passes the command's redactor. An exception that is not a b24sync error is a bug;
    it still ends in one line (a traceback could show a secret), which says so.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        webhook = kwargs.get("webhook")
        start_output(os.environ, webhook if isinstance(webhook, str) else None)
        try:
            return command(*args, **kwargs)
        except B24SyncError as error:
            fail(error_text(error), exits.for_error(error))
        except KeyboardInterrupt as error:
            fail("b24sync: interrupted", exits.for_error(error))
        except (SystemExit, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as error:
            fail(
                f"b24sync: internal error ({type(error).__name__}: {str(error)[:200]}): this is a bug "
                "in b24sync; please report it with the file that caused it",
                int(exits.Exit.FAILED),
            )

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


def allow_env_option(command: Callable[P, R]) -> Callable[P, R]:
    """``--allow-env NAME``: lift env()'s name list for one variable (docs/cli.md, untrusted input)."""
    return click.option(
        "--allow-env",
        "allow_env",
        multiple=True,
        metavar="NAME",
        help="Let env() read NAME although its name looks like a credential (repeatable). The webhook "
        "variable and secret() names stay refused.",
    )(command)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_var_option
@allow_env_option
@handles_errors
def validate(files: tuple[str, ...], var_pairs: tuple[str, ...], allow_env: tuple[str, ...]) -> None:
    """Check pipeline files; print one ok line per valid file, every problem otherwise (exit 2)."""
    variables = _parse_vars(var_pairs)
    problems: list[Problem] = []
    for file in files:
        try:
            plan_file(file, variables=variables, environ=os.environ, allow_env=allow_env)
        except PipelineError as error:
            problems.extend(error.problems)
        else:
            say(f"{file}: ok")
    if problems:
        raise PipelineError(problems)


@main.command()
@handles_errors
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of pipeline files, for editors."""
    say(json.dumps(json_schema(), indent=2, sort_keys=True))


_portal_options = [
    click.option("--webhook", metavar="URL", help="Webhook URL (default: $B24_WEBHOOK_URL)."),
    click.option("--emulator", "use_emulator", is_flag=True, help="Use the built-in emulator as the portal."),
    click.option("--emulator-state", metavar="FILE", help="Keep the emulator's data in FILE between runs."),
    click.option(
        "--timeout",
        type=click.FloatRange(min=1.0),
        default=None,
        metavar="SECONDS",
        help="Give up on a call to the portal once SECONDS went to attempts without an answer and their "
        "retries (default 120; waits for rate limits do not count).",
    ),
]


def portal_options(command: Callable[P, R]) -> Callable[P, R]:
    """The options that choose a portal, shared by plan and apply."""
    for option in reversed(_portal_options):
        command = option(command)
    return command


def webhook_url(webhook: str | None, use_emulator: bool) -> str | None:
    """The webhook URL the options name (--webhook, else $B24_WEBHOOK_URL), checked before anything runs."""
    if use_emulator:
        return None
    url = webhook or os.environ.get(WEBHOOK_VARIABLE)
    if url:
        check_webhook_url(url)
    return url or None


def open_portal(
    webhook: str | None,
    use_emulator: bool,
    emulator_state: str | None,
    rate_limit: str | None,
    missing: str,
    timeout: float | None = None,
) -> Portal:
    """The portal the options name: the emulator, or the webhook from --webhook or $B24_WEBHOOK_URL."""
    if use_emulator:
        return Portal.emulator_portal(state_path=emulator_state, rate_limit=rate_limit)
    url = webhook_url(webhook, use_emulator)
    if not url:
        raise UsageError(missing)
    return Portal.webhook(url, rate_limit=rate_limit, timeout=timeout)


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
@allow_env_option
@click.option("--diff", "show_diff", is_flag=True, help="Show each update as field: old -> new.")
@click.option("--allow-delete", is_flag=True, help="Plan the deletes of delete_missing steps.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when something would, 1 on any error.",
)
@handles_errors
def plan_command(
    file: str,
    var_pairs: tuple[str, ...],
    output_format: str,
    out: str | None,
    webhook: str | None,
    use_emulator: bool,
    emulator_state: str | None,
    timeout: float | None,
    allow_env: tuple[str, ...],
    show_diff: bool,
    allow_delete: bool,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would send: batches, commands, how every link is resolved, and for upsert
    steps what would be created, updated, left unchanged or deleted (reading the portal).

    \b
    Exit codes: 0 planned; 2 invalid pipeline or usage error; 3 the portal could not be read.
    With --detailed-exitcode: 0 nothing would change; 2 something would change; 1 any error
    (an invalid pipeline, the portal, or an upsert instance matching several records).
    """
    try:
        webhook_url(webhook, use_emulator)
        the_plan = plan_run(
            file,
            lambda: open_portal(webhook, use_emulator, emulator_state, None, NEEDS_STATE, timeout),
            variables=_parse_vars(var_pairs),
            environ=os.environ,
            allow_delete=allow_delete,
            out=out,
            allow_env=allow_env,
        )
    except B24SyncError as error:
        if not detailed_exitcode:
            raise
        fail(error_text(error), exits.DETAILED_ERROR)
    current_output(os.environ).learn(the_plan)
    if output_format == "json":
        say(plan_json(the_plan), nl=False)
    else:
        say(render_plan_text(the_plan) + render_changes(the_plan, show_diff), nl=False)
    sys.exit(exits.for_plan(the_plan, detailed_exitcode))


# -- apply ----------------------------------------------------------------------------------------


@main.command()
@click.argument("source", metavar="PIPELINE.yaml|PLAN.json")
@portal_options
@_var_option
@allow_env_option
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
    timeout: float | None,
    var_pairs: tuple[str, ...],
    allow_env: tuple[str, ...],
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
    assume = (
        Assume.APPLIED if assume_applied else Assume.NOT_APPLIED if assume_not_applied else Assume.NOTHING
    )
    portal = open_portal(webhook, use_emulator, emulator_state, rate_limit, NO_PORTAL, timeout)
    shown = ProgressLine(sys.stderr.isatty()) if progress else None
    try:
        with StopFlag() as stop:
            applied = apply_run(
                source,
                portal,
                variables=_parse_vars(var_pairs),
                environ=os.environ,
                report=report_path,
                junit=junit_path,
                markdown=markdown_path or os.environ.get("GITHUB_STEP_SUMMARY") or None,
                halt_on_error=halt_on_error,
                resume=resume_path,
                assume=assume,
                allow_delete=allow_delete,
                on_progress=shown,
                should_stop=stop,
                allow_env=allow_env,
            )
    finally:
        if shown is not None:
            shown.close()
        portal.close()
    current_output(os.environ).learn(applied.plan)
    say(render_text(applied.report, report_path=report_path))
    if applied.fatal is not None:
        say(f"b24sync: error: {applied.fatal}", err=True)
    sys.exit(exits.for_run(applied.fatal, applied.status))


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
            write_output(state, emulator.state_text(), what="emulator state")
