"""The ``b24sync`` commands: parse the options, call ``b24sync.run``, render, return an exit code.

Only this package reads the environment and prints. Exit codes come from ``b24sync.cli.exits``.
The modules behind a command (pydantic models, jinja2, requests, the emulator) are imported inside
it, so ``b24sync --version`` and ``--help`` load click and little else.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NoReturn, ParamSpec, TypeVar

import click

from b24sync.cli import exits
from b24sync.errors import B24SyncError, PipelineError, Problem, UsageError
from b24sync.version import __version__

if TYPE_CHECKING:
    from b24sync.cli.output import Output
    from b24sync.run.portal import Portal
    from b24sync.run.targets import Choice

P = ParamSpec("P")
R = TypeVar("R")

NO_PORTAL = (
    "$B24_WEBHOOK_URL is set but empty (is the CI secret missing?): put the webhook URL in it, "
    "or unset it to use a target or the built-in emulator"
)
NO_TARGET_IN_CI = (
    "no portal named, and in CI b24sync does not fall back to the built-in emulator: pass --target NAME, "
    "set B24_WEBHOOK_URL (from the secret store), or pass --emulator to run on the emulator"
)
NEEDS_STATE = (
    "upsert steps and portal sources read the portal, and in CI b24sync does not plan against the "
    "built-in emulator: pass --target NAME or set B24_WEBHOOK_URL (from the secret store), or --emulator"
)
IMPLICIT_EMULATOR = (
    "b24sync: no target given: using the built-in emulator (nothing leaves this machine); "
    "pass --target NAME or set B24_WEBHOOK_URL to use a portal"
)
_TRUE = frozenset({"1", "true", "yes", "on"})


def current_output(environ: Mapping[str, str]) -> Output:
    """The command's output (``b24sync.cli.output``), imported on first use to keep the start fast."""
    from b24sync.cli.output import current_output as current

    return current(environ)


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
        from b24sync.cli.output import start_output

        options = kwargs.get("portal")
        webhook = options.webhook if isinstance(options, PortalOptions) else kwargs.get("webhook")
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


def _options(*options: Callable[[Any], Any]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Several click options as one decorator, in the order given."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


_var_option = click.option(
    "--var",
    "var_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override vars.NAME (repeatable); the value is text.",
)
selection_options = _options(
    click.option(
        "--select",
        multiple=True,
        metavar="SELECTOR",
        help="Only these steps: STEP, STEP+ (and what depends on it), +STEP (and what it needs); "
        "repeatable, space-separated, comma for an intersection.",
    ),
    click.option("--exclude", multiple=True, metavar="SELECTOR", help="Leave these steps out (same syntax)."),
)


def _format_option(help_text: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=help_text,
    )


# -- validate and schema --------------------------------------------------------------------------


_no_contract_option = click.option(
    "--no-contract",
    is_flag=True,
    help="Do not check the fields the pipeline writes against the portal's (or the snapshot's).",
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
@click.option("--webhook", metavar="URL", help="Check the fields against this portal.")
@click.option("--emulator", "use_emulator", is_flag=True, help="Check the fields against the emulator.")
@click.option("--emulator-state", metavar="FILE", help="The emulator's data (with --emulator).")
@click.option(
    "--fields",
    "fields_file",
    metavar="FILE",
    help="Check the fields against this snapshot (default: b24sync.fields.json beside each file).",
)
@_no_contract_option
@_format_option("Text for people; JSON (every problem with file, line, column, location, code) for tools.")
@allow_env_option
@handles_errors
def validate(
    files: tuple[str, ...],
    var_pairs: tuple[str, ...],
    webhook: str | None,
    use_emulator: bool,
    emulator_state: str | None,
    fields_file: str | None,
    no_contract: bool,
    output_format: str,
    allow_env: tuple[str, ...],
) -> None:
    """Check pipeline files; print one ok line per valid file, every problem otherwise (exit 2).

    The fields each file writes are checked against the portal named by --webhook or --emulator
    (read once), else against the snapshot written by `b24sync fields --save`, when there is one.
    """
    from b24sync.run.contract import Contract, validate_files

    variables = _parse_vars(var_pairs)
    contract: Contract = False if no_contract else fields_file or True
    portal = open_explicit_portal(webhook, use_emulator, emulator_state) if webhook or use_emulator else None
    try:
        results = validate_files(
            files,
            portal.client if portal is not None and contract is True else None,
            contract,
            variables=variables,
            environ=os.environ,
            allow_env=allow_env,
        )
    finally:
        if portal is not None:
            portal.close()
    problems: list[Problem] = []
    checked: list[dict[str, Any]] = []
    for file, found in results:
        problems.extend(found)
        checked.append({"file": file, "valid": not found})
        if not found and output_format == "text":
            say(f"{file}: ok")
    if output_format == "json":
        say(json.dumps(_validation_json(checked, problems), ensure_ascii=False, indent=2))
        if problems:
            sys.exit(exits.for_error(PipelineError(problems)))
        return
    if problems:
        raise PipelineError(problems)


def _validation_json(checked: list[dict[str, Any]], problems: list[Problem]) -> dict[str, Any]:
    return {
        "valid": not problems,
        "files": checked,
        "problems": [
            {
                "file": problem.file,
                "line": problem.line,
                "column": problem.col,
                "location": problem.location,
                "code": problem.code,
                "message": problem.message,
            }
            for problem in problems
        ],
    }


@main.command()
@handles_errors
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of pipeline files, for editors."""
    from b24sync.pipeline.models import json_schema

    say(json.dumps(json_schema(), indent=2, sort_keys=True))


# -- choosing the portal --------------------------------------------------------------------------


@dataclass(frozen=True)
class PortalOptions:
    """What the command line says about the portal."""

    target: str | None
    webhook: str | None
    emulator: bool
    emulator_state: str | None
    ca_bundle: str | None
    insecure: bool
    allow_insecure_remote: bool
    allow_http: bool
    timeout: float | None = None
    """Seconds a call to the portal may take with its retries (``--timeout``)."""


_PORTAL_OPTION_NAMES = (
    "target",
    "webhook",
    "use_emulator",
    "emulator_state",
    "ca_bundle",
    "insecure",
    "allow_insecure_remote",
    "allow_http",
    "timeout",
)
_portal_options = _options(
    click.option(
        "--target",
        metavar="NAME",
        envvar="B24SYNC_TARGET",
        help="A portal named in b24sync.toml ([targets.NAME]; default: $B24SYNC_TARGET).",
    ),
    click.option("--webhook", metavar="URL", help="Webhook URL (default: $B24_WEBHOOK_URL)."),
    click.option("--emulator", "use_emulator", is_flag=True, help="Use the built-in emulator as the portal."),
    click.option(
        "--emulator-state", metavar="FILE", help="Keep the emulator's data in FILE (implies --emulator)."
    ),
    click.option(
        "--ca-bundle", metavar="FILE", help="Check the portal's certificate against this PEM CA file."
    ),
    click.option("--insecure", is_flag=True, help="Do not check the portal's certificate (loopback only)."),
    click.option(
        "--allow-insecure-remote", is_flag=True, help="Allow --insecure for a host that is not loopback."
    ),
    click.option(
        "--allow-http", is_flag=True, help="Allow plain http for a self-hosted portal (never a cloud one)."
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=1.0),
        default=None,
        metavar="SECONDS",
        help="Give up on a call to the portal once SECONDS went to attempts without an answer and their "
        "retries (default 120; waits for rate limits do not count).",
    ),
)


def portal_options(command: Callable[..., R]) -> Callable[..., R]:
    """The options that choose a portal, shared by plan and apply, passed on as one ``PortalOptions``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        values = {name: kwargs.pop(name) for name in _PORTAL_OPTION_NAMES}
        kwargs["portal"] = PortalOptions(
            target=values["target"],
            webhook=values["webhook"],
            emulator=values["use_emulator"],
            emulator_state=values["emulator_state"],
            ca_bundle=values["ca_bundle"],
            insecure=values["insecure"],
            allow_insecure_remote=values["allow_insecure_remote"],
            allow_http=values["allow_http"],
            timeout=values["timeout"],
        )
        return command(*args, **kwargs)

    return _portal_options(wrapper)


def choose_portal(options: PortalOptions, rate_limit: str | None) -> Choice:
    """The portal the options, the environment and b24sync.toml name (``b24sync.run.targets``)."""
    from b24sync.client.tls import INSECURE_WARNING, Tls
    from b24sync.run.targets import choose, find_config, load_config

    found = find_config(os.getcwd())
    choice = choose(
        load_config(found) if found is not None else None,
        os.environ,
        target=options.target,
        webhook=options.webhook,
        emulator=options.emulator,
        emulator_state=options.emulator_state,
        rate_limit=rate_limit,
        tls=Tls(options.ca_bundle, options.insecure, options.allow_insecure_remote),
        allow_http=options.allow_http or None,
    )
    if choice.kind == "webhook":
        from dataclasses import replace

        from b24sync.client.webhook import check_webhook_url

        current_output(os.environ).learn_webhook(choice.url)
        # checked now, before anything is loaded or sent: a bad URL is a usage error, never a write
        check_webhook_url(choice.url, allow_http=choice.allow_http)
        choice = replace(choice, timeout=options.timeout)
    if choice.tls.insecure and choice.kind == "webhook":
        import warnings

        import urllib3

        say(f"b24sync: {INSECURE_WARNING}", err=True)
        # said once, loudly, above; urllib3 would repeat it on every request
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
    return choice


def open_portal(choice: Choice, refusal: str = NO_TARGET_IN_CI) -> Portal:
    """Open the chosen portal, telling the user when the built-in emulator was taken by default.

    In CI (``$CI`` set, as GitHub Actions and GitLab CI do) the emulator is never taken by default:
    a missing secret must fail the job, not let it pass on an emulator.
    """
    from b24sync.run.targets import open_portal as open_choice
    from b24sync.run.workflow import NoPortal

    if choice.implicit and os.environ.get("CI", "").strip().lower() in _TRUE:
        # NoPortal: a plan that only wanted the portal for the field contract uses the snapshot instead
        raise NoPortal(refusal)
    if choice.implicit:
        say(IMPLICIT_EMULATOR, err=True)
    return open_choice(choice)


# -- plan -----------------------------------------------------------------------------------------


def open_explicit_portal(webhook: str | None, use_emulator: bool, emulator_state: str | None) -> Portal:
    """The portal ``validate --webhook/--emulator`` names (no target, no default emulator)."""
    from b24sync.run.portal import Portal

    if use_emulator:
        return Portal.emulator_portal(state_path=emulator_state)
    assert webhook is not None
    return Portal.webhook(webhook)


@main.command(name="plan")
@click.argument("file", type=click.Path(dir_okay=False))
@_var_option
@_format_option("Text for people, JSON for `b24sync apply PLAN.json`.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON plan to this file.")
@portal_options
@selection_options
@click.option(
    "--resume", "resume_path", metavar="REPORT", help="Take results of left-out steps from this run report."
)
@click.option("--diff", "show_diff", is_flag=True, help="Show each update as field: old -> new.")
@click.option(
    "--estimate",
    is_flag=True,
    help="Print the requests and their time at the standard and enterprise request limits instead of "
    "the batches.",
)
@click.option("--allow-delete", is_flag=True, help="Plan the deletes of delete_missing steps.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when something would, 1 on any error.",
)
@_no_contract_option
@allow_env_option
@handles_errors
def plan_command(
    file: str,
    var_pairs: tuple[str, ...],
    output_format: str,
    out: str | None,
    portal: PortalOptions,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    resume_path: str | None,
    show_diff: bool,
    estimate: bool,
    allow_delete: bool,
    detailed_exitcode: bool,
    no_contract: bool,
    allow_env: tuple[str, ...],
) -> None:
    """Show what apply would send: batches, commands, how every link is resolved, and for upsert
    steps what would be created, updated, left unchanged or deleted (reading the portal).

    \b
    Exit codes: 0 planned; 2 invalid pipeline or usage error; 3 the portal could not be read.
    With --detailed-exitcode: 0 nothing would change; 2 something would change; 1 any error
    (an invalid pipeline, the portal, or an upsert instance matching several records).
    """
    from b24sync.planning.text import render_changes, render_plan_text
    from b24sync.run.workflow import plan as plan_run
    from b24sync.run.workflow import plan_json

    found = None
    try:
        choice = choose_portal(portal, None)  # now, so a wrong option is an error without upsert steps too
        if estimate and out is None and not (select or exclude or resume_path):
            from b24sync.run.workflow import plan_estimate

            # counted as apply plans it: a big data file a window at a time, never whole
            the_plan, found = plan_estimate(
                file,
                lambda: open_portal(choice, NEEDS_STATE),
                variables=_parse_vars(var_pairs),
                environ=os.environ,
                allow_delete=allow_delete,
                contract=not no_contract,
                allow_env=allow_env,
            )
        else:
            the_plan = plan_run(
                file,
                lambda: open_portal(choice, NEEDS_STATE),
                variables=_parse_vars(var_pairs),
                environ=os.environ,
                allow_delete=allow_delete,
                out=out,
                select=select,
                exclude=exclude,
                resume=resume_path,
                contract=not no_contract,
                allow_env=allow_env,
            )
    except B24SyncError as error:
        if not detailed_exitcode:
            raise
        fail(error_text(error), exits.DETAILED_ERROR)
    current_output(os.environ).learn(the_plan)
    if estimate:
        from b24sync.planning.estimate import estimate as estimate_plan
        from b24sync.planning.estimate import estimate_json, render_estimate

        if found is None:  # --out, --select, --exclude or --resume: the plan was made whole
            from b24sync.run.workflow import cloud_time

            found = estimate_plan(the_plan, cloud_time())
        if output_format == "json":
            say(json.dumps(estimate_json(found), indent=2))
        else:
            say(render_estimate(found), nl=False)
    elif output_format == "json":
        say(plan_json(the_plan), nl=False)
    else:
        say(render_plan_text(the_plan) + render_changes(the_plan, show_diff), nl=False)
    sys.exit(exits.for_plan(the_plan, detailed_exitcode))


# -- apply ----------------------------------------------------------------------------------------


@main.command()
@click.argument("source", metavar="PIPELINE.yaml|PLAN.json")
@portal_options
@_var_option
@selection_options
@click.option(
    "--report",
    "report_path",
    default="b24sync-report.json",
    show_default=True,
    help="Where to write the JSON run report.",
)
@click.option(
    "--report-results",
    "report_results",
    type=click.Choice(["full", "ids", "none"]),
    help="How much of each command the report keeps: full (every result), ids (outcome, created id, "
    "error), none (outcome, error). Default: full up to 10,000 entries (commands, imported records), "
    "else ids.",
)
@click.option("--junit", "junit_path", metavar="PATH", help="Also write JUnit XML.")
@click.option(
    "--markdown",
    "markdown_path",
    metavar="PATH",
    help="Also write a Markdown summary (default: append to $GITHUB_STEP_SUMMARY when set).",
)
@_format_option("The summary on stdout: text for people, JSON for scripts.")
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
    "--applied-id",
    "applied_ids",
    multiple=True,
    metavar="KEY=ID",
    help="With --assume-applied: the id the record of KEY (a command key or step[instance]) got, "
    "for the steps that link to it (repeatable).",
)
@click.option(
    "--rate-limit",
    metavar="LIMIT",
    help="standard (50 burst, 2/s; the default), enterprise (250, 5/s), off (the default with "
    "--emulator), or BURST/RATE.",
)
@click.option("--allow-delete", is_flag=True, help="Run the deletes of delete_missing steps.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0.0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another apply of the same pipeline to the same portal on this machine.",
)
@click.option(
    "--parallel",
    type=int,
    default=None,
    metavar="N",
    help="Requests in flight at once (1 to 10): batches with no link or dependency between them go "
    "out together; journal, report and --resume are those of a serial run. Default: measured, from 1 "
    "up to the requests the rate limit admits while one is on the server (the server time each "
    "answer reports over the bucket's interval, 0.5 s at the standard limit).",
)
@click.option("--progress/--no-progress", default=True, help="Show progress on stderr.")
@_no_contract_option
@allow_env_option
@handles_errors
def apply(
    source: str,
    portal: PortalOptions,
    var_pairs: tuple[str, ...],
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    report_path: str,
    report_results: Literal["full", "ids", "none"] | None,
    junit_path: str | None,
    markdown_path: str | None,
    output_format: str,
    halt_on_error: bool | None,
    resume_path: str | None,
    assume_applied: bool,
    assume_not_applied: bool,
    applied_ids: tuple[str, ...],
    rate_limit: str | None,
    allow_delete: bool,
    lock_timeout: float,
    parallel: int | None,
    progress: bool,
    no_contract: bool,
    allow_env: tuple[str, ...],
) -> None:
    """Run a pipeline (or a saved plan) against a portal and write a run report.

    \b
    Exit codes:
      0    every step succeeded
      1    the run finished with failed, skipped, not-run or unknown steps
      2    usage error or invalid pipeline (nothing was sent)
      3    the portal could not be reached or refused the credentials
      129  stopped by SIGHUP; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM (the report is still
           written; finish the run with --resume REPORT)
    """
    from b24sync.cli.progress import ProgressLine, StopFlag
    from b24sync.report.render import render_summary_json, render_text
    from b24sync.run.executor import given_parallel
    from b24sync.run.journal import journal_path
    from b24sync.run.outputs import choose_journal
    from b24sync.run.resume import Assume
    from b24sync.run.workflow import apply as apply_run

    if assume_applied and assume_not_applied:
        raise UsageError("choose one of --assume-applied and --assume-not-applied")
    in_flight = given_parallel(parallel)
    assume = (
        Assume.APPLIED if assume_applied else Assume.NOT_APPLIED if assume_not_applied else Assume.NOTHING
    )
    connection = open_portal(choose_portal(portal, rate_limit))
    journal = choose_journal(None, report_path, connection, os.environ)
    if journal is not None and journal != journal_path(report_path):
        say(f"b24sync: this run's journal is {journal}: pass it to --resume if the run is killed", err=True)
    shown = ProgressLine(sys.stderr.isatty()) if progress else None
    try:
        with StopFlag() as stop:
            applied = apply_run(
                source,
                connection,
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
                select=select,
                exclude=exclude,
                contract=not no_contract,
                allow_env=allow_env,
                report_results=report_results,
                journal=journal,
                applied_ids=applied_ids,
                lock_timeout=lock_timeout,
                parallel=in_flight,
            )
    finally:
        if shown is not None:
            shown.close()
        connection.close()
    current_output(os.environ).learn(applied.plan)
    if output_format == "json":
        say(render_summary_json(applied.report, report_path=report_path))
    else:
        fatal = None if applied.fatal is None else str(applied.fatal)
        say(render_text(applied.report, report_path=report_path, fatal=fatal))  # the error once, below
    for warning in applied.warnings:
        say(f"b24sync: warning: {warning}", err=True)
    if applied.fatal is not None:
        say(f"b24sync: error: {applied.fatal}", err=True)
    totals = applied.report.totals
    if applied.status == "interrupted" or totals.unknown or (applied.fatal is not None and totals.succeeded):
        resume_from = str(applied.journal) if applied.journal is not None else report_path
        say(f"b24sync: to finish this run: b24sync apply {source} --resume {resume_from}", err=True)
    sys.exit(exits.for_run(applied.fatal, applied.status, stop.signal_number))


# -- init -----------------------------------------------------------------------------------------


@main.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False))
@click.option(
    "--action",
    metavar="OWNER/REPO@REF",
    help="The b24sync GitHub Action the CI workflow uses (default: OWNER/b24sync@v<version>, to edit).",
)
@handles_errors
def init(folder: str, action: str | None) -> None:
    """Start a project: a commented pipeline and its data, b24sync.toml, the schema for editors,
    .gitignore entries for reports and a CI workflow. Existing files are kept as they are.

    \b
    Exit codes: 0 written (or kept); 2 a file could not be written.
    """
    from b24sync.run.scaffold import scaffold

    written = scaffold(folder, action=action)
    for entry in written:
        say(f"{entry.state:8} {entry.path}")
    pipeline = (
        os.path.join(folder, "pipelines", "contacts.yaml") if folder != "." else "pipelines/contacts.yaml"
    )
    say(f"next: b24sync validate {pipeline} && b24sync apply {pipeline}   (runs on the built-in emulator)")
    if any(entry.needs_edit for entry in written):
        say(
            "edit .github/workflows/b24sync.yml: replace OWNER with the GitHub account that hosts b24sync "
            "(or run init with --action OWNER/REPO@REF)",
            err=True,
        )


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
    default="480",
    show_default=True,
    metavar="SECONDS|off",
    help="Seconds of operating time per method per ten minutes, or off (no limit, no operating figures).",
)
@click.option(
    "--profile",
    default="instant",
    show_default=True,
    type=click.Choice(["instant", "cloud"], case_sensitive=False),
    help="Server time per command: instant (none) or cloud (a cloud portal's figures, docs/emulator.md).",
)
@click.option(
    "--cost",
    "costs",
    multiple=True,
    metavar="CLASS=MS",
    help="Replace one figure of the profile, in ms: add, update, delete, get, list, import, fields, "
    "other, request or count (per counted record); repeatable.",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Requests served at once (default: the profile's; instant has no bound).",
)
@click.option(
    "--latency",
    default=None,
    type=click.FloatRange(min=0),
    help="Milliseconds of network latency added to every request (default: the profile's, 0 for instant).",
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
@click.option(
    "--tls", is_flag=True, help="Serve https; the second line printed is the CA certificate to trust."
)
@click.option(
    "--tls-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Keep the CA in this folder so it stays the same across starts (implies --tls).",
)
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
    operating_limit: str,
    profile: str,
    costs: tuple[str, ...],
    workers: int | None,
    latency: float | None,
    fail_rate: float,
    drop_rate: float,
    seed: int,
    tls: bool,
    tls_dir: str | None,
    scopes: str | None,
) -> None:
    """Run an offline Bitrix24 portal; the first line printed is its webhook URL."""
    import threading

    from b24sync.emulator import Emulator, EmulatorError
    from b24sync.emulator.costs import parse_costs
    from b24sync.emulator.server import EmulatorServer
    from b24sync.report.files import write_output

    try:
        emulator = Emulator(
            token=token,
            rate_limit=rate_limit,
            operating_limit=_operating_limit(operating_limit),
            profile=profile,
            costs=parse_costs(costs),
            workers=workers,
            latency_ms=latency,
            fail_rate=fail_rate,
            drop_rate=drop_rate,
            seed=seed,
            state_path=state,
            scopes=scopes,
        )
        server = EmulatorServer(emulator, host, port, tls or tls_dir is not None, tls_dir)
        server.start()
    except (EmulatorError, ValueError) as error:
        raise UsageError(str(error)) from error
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda number, frame: stop.set())
    say(server.webhook_url)
    if server.certificate is not None:
        say(f"certificate: {server.certificate}")
        say(
            f"b24sync: trust it with `b24sync apply --ca-bundle {server.certificate}`, "
            f"NODE_EXTRA_CA_CERTS={server.certificate} or REQUESTS_CA_BUNDLE={server.certificate}",
            err=True,
        )
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if state is not None:
            write_output(state, emulator.state_text(), what="emulator state", make_parents=True)


def _operating_limit(text: str) -> float | None:
    """``--operating-limit``: positive seconds, or ``off``; ValueError with the fix otherwise."""
    if text.strip().lower() == "off":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"--operating-limit {text!r} is not a positive number of seconds or off")
    return seconds
