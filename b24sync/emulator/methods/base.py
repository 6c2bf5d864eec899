"""What a method handler is, and how it reports success and failure.

A handler is called once per method call (a plain call or one command of a batch) with the
parameters as the portal's PHP layer would see them: from a JSON body, real JSON types; from a form
body, a query string or a batch command, PHP ``parse_str`` output (nested dicts with string keys,
every leaf a string, lists as dicts keyed "0", "1", ...). Handlers accept both and coerce per
parameter (protocol §2.2: all values arrive as strings inside a batch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class MethodError(Exception):
    """A method-level failure: becomes ``{"error", "error_description"}`` with ``status``."""

    def __init__(
        self, code: str, description: str, status: int = 400, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status
        self.extra: dict[str, Any] = dict(extra or {})


@dataclass(frozen=True)
class Reply:
    """A successful call: the value for ``result`` and, for list methods, ``total``/``next``."""

    result: Any
    total: int | None = None
    next: int | None = None


@dataclass
class Context:
    """What a handler may use besides its parameters."""

    store: Any
    user_id: int
    now: Callable[[], float]
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Context, dict[str, Any]], Reply]
