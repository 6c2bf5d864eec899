"""What calls return: ``AjaxResult`` for one method call, ``Result`` for a batch or a list.

They mirror the b24jssdk classes of the same names: a failed command is data here, not an
exception; exceptions mean the call could not be made at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CommandError:
    """Why one command failed: the portal's ``error`` code (may be ``""``) and description."""

    code: str
    description: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        code = self.code if self.code else "error"
        return f"{code}: {self.description}" if self.description else code


@dataclass(frozen=True)
class AjaxResult:
    """The answer to one method call: its ``result``, ``total``, ``next`` and ``time``, or its error."""

    data: Any = None
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] | None = None
    error: CommandError | None = None
    status: int = 200

    @property
    def is_success(self) -> bool:
        """True when the call succeeded."""
        return self.error is None

    def get_data(self) -> Any:
        """The method's ``result``."""
        return self.data

    def get_total(self) -> int | None:
        """``total`` of a list method, when the portal counted."""
        return self.total

    def get_next(self) -> int | None:
        """``next`` of a list method: the ``start`` of the next page, absent on the last page."""
        return self.next

    def is_more(self) -> bool:
        """True when a list method has a next page."""
        return self.next is not None

    def get_error_messages(self) -> list[str]:
        """The error as one message, or nothing."""
        return [] if self.error is None else [str(self.error)]


@dataclass
class Result:
    """Results of several commands: successes by key, errors by key, and what never ran."""

    data: Any = None
    errors: dict[str, CommandError] = field(default_factory=dict)
    not_executed: list[str] = field(default_factory=list)
    halted_at: str | None = None

    @property
    def is_success(self) -> bool:
        """True when every command ran and succeeded."""
        return not self.errors and not self.not_executed

    def get_data(self) -> Any:
        """Successful results: a dict by command key, or a list in call order for list-shaped calls."""
        return self.data

    def get_errors(self) -> dict[str, CommandError]:
        """Errors by command key."""
        return dict(self.errors)

    def get_error_messages(self) -> list[str]:
        """One line per failed command and per command the portal never reached."""
        messages = [f"[{key}] {error}" for key, error in self.errors.items()]
        if self.not_executed:
            cause = f" after {self.halted_at} failed" if self.halted_at is not None else ""
            messages += [f"[{key}] not executed: the batch halted{cause}" for key in self.not_executed]
        return messages


@dataclass(frozen=True)
class BatchReply:
    """The decoded answer to one ``batch`` request (protocol §5)."""

    results: dict[str, Any]
    errors: dict[str, CommandError]
    totals: dict[str, Any]
    nexts: dict[str, Any]
    times: dict[str, Any]
    time: Mapping[str, Any] | None
    not_reached: list[str]

    def ajax(self, key: str) -> AjaxResult:
        """One command's outcome as an ``AjaxResult``."""
        error = self.errors.get(key)
        if error is None and key not in self.results:
            error = CommandError("NOT_EXECUTED", "the portal did not run this command")
        return AjaxResult(
            self.results.get(key),
            as_int(self.totals.get(key)),
            as_int(self.nexts.get(key)),
            self.times.get(key),
            error,
        )


def as_int(value: Any) -> int | None:
    """An integer from the portal's int-or-text numbers; None when absent or not a number."""
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def command_error(value: Any) -> CommandError:
    """A ``result_error`` entry as a ``CommandError``."""
    if not isinstance(value, Mapping):
        return CommandError("", str(value))
    extra = {k: v for k, v in value.items() if k not in ("error", "error_description")}
    return CommandError(str(value.get("error", "")), str(value.get("error_description", "")), extra)
