"""The emulated portal's methods, one module per family, looked up by lower-case name."""

from __future__ import annotations

from . import (
    activities,
    crm_import,
    crm_item,
    crm_legacy,
    duplicates,
    productrows,
    reference,
    relations,
    smart,
    stagehistory,
    status_edit,
    statuses,
    tasks,
    userfields,
    users,
    users_admin,
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
        smart,
        status_edit,
        productrows,
        users_admin,
        reference,
        stagehistory,
    ):
        handlers.update(family.HANDLERS)
    return {name.lower(): handler for name, handler in handlers.items()}
