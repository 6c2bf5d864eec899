"""The pre-flight call: before the first write, one ``scope`` call proves the portal (protocol §9.1).

It proves three things at the cost of one read: the host answers as Bitrix24 does (a JSON ``result``
that lists scope names), the webhook's user id and code are accepted (protocol §6.2: a refusal is an
``AuthError``), and every method the plan writes with belongs to a scope the webhook was granted. A run
that fails it sends nothing and stops with a ``PortalError`` (exit 3).
"""

from __future__ import annotations

from collections.abc import Container

from b24sync.bitrix.advice import WEBHOOK_PAGE
from b24sync.bitrix.methods import is_read, required_scope
from b24sync.client.hook import B24Hook
from b24sync.errors import OutcomeUnknownError, PortalError, ProtocolError, TransportError
from b24sync.planning.model import Plan

# protocol §9.1: user.* methods answer with any of the user scopes
_USER_SCOPES = frozenset({"user", "user_basic", "user_brief"})
NOT_A_PORTAL = (
    f"check that B24_WEBHOOK_URL is a Bitrix24 inbound webhook URL ({WEBHOOK_PAGE}); nothing was sent"
)


def needs_preflight(plan: Plan, recorded: Container[str] = ()) -> bool:
    """Whether the run would send a write (a run that only reads proves the portal by reading)."""
    return any(not is_read(c.method) and c.key not in recorded for c in plan.commands())


def check_portal(plan: Plan, client: B24Hook) -> None:
    """Call ``scope`` once; raise a ``PortalError`` with one line of advice when the run cannot write."""
    try:
        answer = client.call_method("scope")
    except OutcomeUnknownError as error:  # a read: cannot happen, but never mistaken for a write
        raise TransportError(str(error)) from None
    except TransportError as error:
        if not error.answered:
            raise  # unreachable: the cause is the advice
        # a server answered, but not as Bitrix24 does (a file server, a proxy's page)
        raise TransportError(f"{error}: {NOT_A_PORTAL}") from None
    if answer.error is not None:
        raise PortalError(
            f"{client.host} refused the pre-flight `scope` call: {answer.error.code}"
            f"{': ' + answer.error.description if answer.error.description else ''}"
        )
    granted = answer.data
    if not isinstance(granted, list) or not all(isinstance(name, str) for name in granted):
        raise ProtocolError(
            f"{client.host} is not answering like Bitrix24: `scope` did not return a list of scopes; "
            f"{NOT_A_PORTAL}"
        )
    missing = missing_scopes(plan, frozenset(granted))
    if missing:
        shown = ", ".join(f"{scope} (for {', '.join(methods)})" for scope, methods in missing.items())
        raise PortalError(
            f"the webhook lacks the scope{'s' if len(missing) > 1 else ''} {shown}: add "
            f"{', '.join(missing)} to the webhook's permissions in Bitrix24 ({WEBHOOK_PAGE}) and save; "
            "nothing was sent"
        )


def missing_scopes(plan: Plan, granted: frozenset[str]) -> dict[str, list[str]]:
    """The scopes the plan's methods need that ``granted`` lacks, each with the methods needing it."""
    missing: dict[str, list[str]] = {}
    for method in sorted({c.method for c in plan.commands()}):
        scope = required_scope(method)
        if scope is None or scope in granted:
            continue
        if scope == "user" and _USER_SCOPES & granted:
            continue
        missing.setdefault(scope, []).append(method)
    return missing
