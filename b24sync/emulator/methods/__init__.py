"""The emulated portal's methods, one module per family, looked up by lower-case name."""

from __future__ import annotations

from . import (
    activities,
    crm_import,
    crm_item,
    crm_legacy,
    duplicates,
    relations,
    statuses,
    tasks,
    userfields,
    users,
)
from .base import Handler


def registry() -> dict[str, Handler]:
    """Every implemented method, keyed by its lower-case name."""
    handlers: dict[str, Handler] = {}
    for family in (
        users,
        crm_item,
        crm_import,
        crm_legacy,
        relations,
        duplicates,
        tasks,
        userfields,
        statuses,
        activities,
    ):
        handlers.update(family.HANDLERS)
    return {name.lower(): handler for name, handler in handlers.items()}
