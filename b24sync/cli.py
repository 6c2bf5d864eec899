"""The ``b24sync`` command line: parses, calls the library, renders, returns an exit code.

Only this module reads the environment and prints. Exit codes are mapped here and nowhere else.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import click

from b24sync import __version__
from b24sync.errors import (
    B24SyncError,
    Interrupted,
    PipelineError,
    PortalError,
    Problem,
    UsageError,
)
from b24sync.pipeline import json_schema
from b24sync.planner import plan_file
from b24sync.plantext import render_plan_text

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
@handles_errors
def plan_command(file: str, var_pairs: tuple[str, ...], output_format: str, out: str | None) -> None:
    """Show what apply would send: batches, commands, and how every link is resolved."""
    the_plan = plan_file(file, variables=_parse_vars(var_pairs), environ=os.environ)
    document = the_plan.model_dump_json(indent=2) + "\n"
    if out is not None:
        try:
            with open(out, "w", encoding="utf-8") as stream:
                stream.write(document)
        except OSError as error:
            raise UsageError(f"cannot write {out}: {error.strerror or error}") from None
    click.echo(document if output_format == "json" else render_plan_text(the_plan), nl=False)
