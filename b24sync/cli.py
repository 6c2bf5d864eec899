"""The ``b24sync`` command line: parses, calls the library, renders, returns an exit code.

Only this module reads the environment and prints. Exit codes are mapped here and nowhere else.
"""

from __future__ import annotations

import functools
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
    UsageError,
)

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


@main.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8024, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
@click.option("--token", default="emulator-token", show_default=True, help="The webhook code to accept.")
@click.option("--state", "state", type=click.Path(dir_okay=False), default=None,
              help="JSON file: loaded at start, saved atomically on SIGINT/SIGTERM.")
@click.option("--rate-limit", default="off", show_default=True,
              help="Leaky bucket: standard (50, 2/s), enterprise (250, 5/s), off, or BURST/RATE.")
@click.option("--operating-limit", default=480.0, show_default=True, type=float,
              help="Seconds of operating time per method per ten minutes.")
@click.option("--latency", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Milliseconds added to every request.")
@click.option("--fail-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of requests answered by an HTML 500/502 without processing.")
@click.option("--drop-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of requests processed, then closed without an answer.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the injected faults.")
@click.option("--tls", is_flag=True, help="Serve https with a self-signed certificate made at start.")
@handles_errors
def emulator_command(host: str, port: int, token: str, state: str | None, rate_limit: str,
                     operating_limit: float, latency: float, fail_rate: float, drop_rate: float,
                     seed: int, tls: bool) -> None:
    """Run an offline Bitrix24 portal; the first line printed is its webhook URL."""
    import signal
    import threading

    from b24sync.emulator import Emulator, EmulatorError
    from b24sync.emulator.server import EmulatorServer

    try:
        emulator = Emulator(token=token, rate_limit=rate_limit, operating_limit=operating_limit,
                            latency_ms=latency, fail_rate=fail_rate, drop_rate=drop_rate, seed=seed,
                            state_path=state)
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
