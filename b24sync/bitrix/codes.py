"""Error codes that decide what a client does next (protocol §6.2, §7.4)."""

from __future__ import annotations

from typing import Final

QUERY_LIMIT: Final = "QUERY_LIMIT_EXCEEDED"
"""The request rate limit: nothing ran; wait and send again (protocol §7.1)."""
OPERATION_LIMIT: Final = "OPERATION_TIME_LIMIT"
"""A method's operating time is used up: wait for ``operating_reset_at`` (protocol §7.2)."""
LIMIT_CODES: Final = frozenset({QUERY_LIMIT, OPERATION_LIMIT})
OVERLOAD_LIMIT: Final = "OVERLOAD_LIMIT"
"""An administrator blocked the REST API: no wait fixes it."""
METHOD_NOT_FOUND: Final = "ERROR_METHOD_NOT_FOUND"
INSUFFICIENT_SCOPE: Final = "insufficient_scope"

# protocol §6.2 and §7.4: credentials, scope and portal refusals that no retry can fix.
AUTH_CODES: Final = frozenset(
    {
        "NO_AUTH_FOUND",
        "INVALID_CREDENTIALS",
        INSUFFICIENT_SCOPE,
        "expired_token",
        "invalid_token",
        "authorization_error",
        "APPLICATION_NOT_FOUND",
        "METHOD_CONFIRM_WAITING",
        "METHOD_CONFIRM_DENIED",
        "allowed_only_intranet_user",
        "user_access_error",
        "WRONG_AUTH_TYPE",
        "INVALID_REQUEST",
        "PORTAL_DELETED",
    }
)
REFUSED_CREDENTIALS: Final = frozenset(
    {"INVALID_CREDENTIALS", "NO_AUTH_FOUND", "invalid_token", "expired_token"}
)
