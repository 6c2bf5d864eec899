"""One sentence saying what to do about the portal refusals a new user meets first (protocol §6.2).

Pure text: the client puts it into the ``AuthError`` it raises, the renderers beside a failed command.
"""

from __future__ import annotations

from collections.abc import Sequence

from b24sync.bitrix.codes import INSUFFICIENT_SCOPE, REFUSED_CREDENTIALS
from b24sync.bitrix.methods import required_scope

# Where an inbound webhook is made and edited in the Bitrix24 interface.
WEBHOOK_PAGE = "Developer resources > Other > Inbound webhook"


def advice(code: str, methods: str | Sequence[str] = ()) -> str | None:
    """What to do about an error ``code`` of a request calling ``methods``; ``None`` when nothing specific."""
    if code == INSUFFICIENT_SCOPE:
        return _scope_advice([methods] if isinstance(methods, str) else list(methods))
    if code in REFUSED_CREDENTIALS:
        return (
            "the portal refused the webhook's user id or code: copy the webhook URL again from Bitrix24 "
            f"({WEBHOOK_PAGE}) into B24_WEBHOOK_URL"
        )
    return None


def _scope_advice(methods: list[str]) -> str:
    scopes = sorted({scope for scope in map(required_scope, methods) if scope is not None})
    if len(methods) == 1 and len(scopes) == 1:
        return (
            f"the webhook lacks the {scopes[0]} scope that {methods[0]} needs: add {scopes[0]} to the "
            f"webhook's permissions in Bitrix24 ({WEBHOOK_PAGE}) and save"
        )
    if scopes:
        return (
            f"the webhook lacks a scope that {', '.join(methods)} need: make sure its permissions in "
            f"Bitrix24 ({WEBHOOK_PAGE}) include {', '.join(scopes)}"
        )
    needed = f"the scope {', '.join(methods)} needs" if methods else "a scope this call needs"
    return f"the webhook lacks {needed}: add it to the webhook's permissions in Bitrix24 ({WEBHOOK_PAGE})"
