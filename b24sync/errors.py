"""The exceptions b24sync raises, all under one root.

An exception means "cannot continue". A Bitrix24 command that fails inside a batch is not an
exception: it is a recorded outcome (``Result.errors``, the run report).

    B24SyncError                     root of everything raised on purpose
    ├── UsageError                   a library call or command line that cannot work as given
    │   └── WebhookUrlError          a webhook URL that is malformed or not https
    ├── PipelineError                problems in pipeline files, all of them (``.problems``)
    ├── PortalError                  the portal could not be used (CLI exit code 3 unless noted)
    │   ├── TransportError           no usable HTTP answer (refused, reset, timeout, HTML, bad JSON)
    │   │   ├── OutcomeUnknownError  a request was sent, its answer lost, and it held writes
    │   │   └── ProtocolError        an answer that is JSON but not of the shape protocol §5 gives
    │   └── ApiError                 the portal answered the whole request with an error
    │       ├── AuthError            credentials or scope refused (401/403 codes)
    │       ├── MethodNotFoundError  ERROR_METHOD_NOT_FOUND
    │       ├── RateLimitError       QUERY_LIMIT_EXCEEDED / OPERATION_TIME_LIMIT after the retries
    │       ├── ListPageError        a page of a list walk failed (``.key``, ``.error``)
    │       └── ServerError          5xx after the retries
    └── Interrupted                  the user pressed Ctrl-C (exit code 130)

Messages never contain a webhook secret: the client redacts every text it puts into an
exception (see ``b24sync.client.redaction``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class B24SyncError(Exception):
    """Root of every exception b24sync raises on purpose."""


class UsageError(B24SyncError):
    """A library call or command line that cannot work as given."""


class WebhookUrlError(UsageError):
    """A webhook URL that is malformed or not https."""


Location = tuple[str | int, ...]


def format_path(path: Location) -> str:
    """A location inside a file or a value: ``('steps', 2, 'params')`` as ``steps[2].params``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Problem:
    """One problem in a pipeline file, pointing at its source.

    ``code`` names the kind of problem in a word that stays the same across versions (``unknown-key``,
    ``yaml-syntax``, ...; docs/cli.md lists them), for tools reading ``validate --format json``.
    """

    file: str
    line: int
    col: int
    location: str
    message: str
    code: str = "invalid"
    place: str | None = None
    """How the place is written when it is not ``file:line:col`` (a cell: ``orders.xlsx:Orders!B17``)."""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        at = self.place if self.place is not None else f"{self.file}:{self.line}:{self.col}"
        return f"{at}: {where}{self.message}"


class PipelineError(B24SyncError):
    """Every problem found in one or more pipeline files; nothing was sent."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PortalError(B24SyncError):
    """The portal could not be used."""


class TransportError(PortalError):
    """No usable HTTP answer: refused, reset, timed out, or not Bitrix24 JSON.

    ``answered`` is true when a server did answer, only not as Bitrix24 does (an HTML page, a 5xx
    without JSON): the host is up but may not be a portal at all.
    """

    def __init__(self, message: str, *, answered: bool = False) -> None:
        self.answered = answered
        super().__init__(message)


class OutcomeUnknownError(TransportError):
    """A request holding writes was sent and its answer was lost: those writes may or may not have run."""

    def __init__(self, message: str, commands: Sequence[str]) -> None:
        self.commands: tuple[str, ...] = tuple(commands)
        super().__init__(message)


class ProtocolError(TransportError):
    """An answer that is JSON but not of the shape the protocol gives (a batch ``result`` of text)."""


class ApiError(PortalError):
    """The portal answered the whole request with an error envelope."""

    def __init__(
        self, code: str, description: str, status: int | None = None, *, advice: str | None = None
    ) -> None:
        self.code = code
        self.description = description
        self.status = status
        shown = code if code else "error"
        if advice:
            # the advice leads; the portal's own words stay for searching and support
            at = f", HTTP {status}" if status is not None else ""
            super().__init__(f"{advice} ({shown}{at})")
            return
        at = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{shown}: {description}{at}" if description else f"{shown}{at}")


class AuthError(ApiError):
    """Credentials or scope refused by the portal."""


class MethodNotFoundError(ApiError):
    """The portal does not know the method."""


class RateLimitError(ApiError):
    """A limit error that outlasted the retries."""


class ListPageError(ApiError):
    """A page of a list walk failed; ``key`` names its command."""

    def __init__(self, key: str, code: str, description: str) -> None:
        self.key = key
        super().__init__(code, description)


class ServerError(ApiError):
    """A 5xx answer that outlasted the retries."""


class StreamStopped(B24SyncError):
    """The rest of a streamed run could not be planned: what was sent is recorded, the rest was not sent."""


class DataChanged(StreamStopped):
    """A data file a streamed run reads again changed since the run read it first: the rest is not sent."""


class Interrupted(B24SyncError):
    """The user interrupted the run."""
