"""Which webhook scope each emulated method needs, and the refusal of a method outside them."""

from __future__ import annotations

from collections.abc import Iterable

# The scopes the emulated methods belong to (protocol §9.1, §9.2, §9.7).
KNOWN_SCOPES = ("crm", "task", "user", "user_basic", "user_brief")
# protocol §9.1: user.* answer with any of the user scopes
_USER_SCOPES = frozenset({"user", "user_basic", "user_brief"})
# protocol §6.2: docs say 403, the live tests of the Python SDK saw 401; the emulator answers 401
INSUFFICIENT_SCOPE_STATUS = 401
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the webhook token",
}


def parse_scopes(scopes: Iterable[str] | str | None) -> frozenset[str]:
    """The allowed scopes: every known one for ``None``, else the names given (comma list or iterable)."""
    if scopes is None:
        return frozenset(KNOWN_SCOPES)
    names = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    chosen = {name.strip() for name in names if name.strip()}
    unknown = sorted(chosen - set(KNOWN_SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}: the emulator knows {', '.join(KNOWN_SCOPES)}")
    return frozenset(chosen)


def allows(method: str, scopes: frozenset[str]) -> bool:
    """Whether a webhook with ``scopes`` may call ``method`` (basic methods need no scope)."""
    name = method.lower()
    if name.startswith("crm."):
        return "crm" in scopes
    if name.startswith(("tasks.", "task.")):
        return "task" in scopes
    if name.startswith("user."):
        return bool(_USER_SCOPES & scopes)
    return True
