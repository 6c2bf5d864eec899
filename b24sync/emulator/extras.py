"""Tables a portal has beyond its records: smart-process types, pipelines (categories), the status
lists added to the stock ones, product rows and per-user options.

They are kept in one object of the store (``store.extras``) with their own JSON form, so the core
tables stay as they were and a state file written before them still loads.
"""

from __future__ import annotations

import copy
from typing import Any


class Extras:
    """The added tables, empty on a new portal."""

    def __init__(self) -> None:
        # crm.type id -> the type as crm.type.get returns it (camelCase, "Y"/"N" flags)
        self.types: dict[int, dict[str, Any]] = {}
        # entityTypeId -> category id -> {"id", "name", "sort", "entityTypeId", "isDefault"}
        self.categories: dict[int, dict[int, dict[str, Any]]] = {}
        # status id -> row as crm.status.list returns it; stock rows changed or added here override
        # the stock ones, None marks a deleted stock row
        self.statuses: dict[int, dict[str, Any] | None] = {}
        # "<entityTypeId>:<ownerId>" -> product rows in crm.item.productrow form
        self.product_rows: dict[str, list[dict[str, Any]]] = {}
        # lead id -> [{"id", "sort", "roleId", "isPrimary"}]: a lead's contacts (crm.lead.contact.*)
        self.lead_contacts: dict[int, list[dict[str, Any]]] = {}
        # crm.stagehistory.list rows: a record's creation (TYPE_ID 1) and stage changes (2)
        self.stage_history: list[dict[str, Any]] = []
        # user id -> option name -> value (user.option.*)
        self.user_options: dict[int, dict[str, Any]] = {}

    def type_by_entity(self, entity_type_id: int) -> dict[str, Any] | None:
        """The smart-process type with this entityTypeId, if there is one."""
        return next((t for t in self.types.values() if t["entityTypeId"] == entity_type_id), None)

    def stats(self) -> dict[str, int]:
        """How many rows each table holds."""
        return {
            "types": len(self.types),
            "categories": sum(len(rows) for rows in self.categories.values()),
            "product_rows": sum(len(rows) for rows in self.product_rows.values()),
        }

    def to_json(self) -> dict[str, Any]:
        """The tables as JSON-ready data."""
        return {
            "types": [copy.deepcopy(t) for t in self.types.values()],
            "categories": {
                str(type_id): [copy.deepcopy(row) for row in rows.values()]
                for type_id, rows in self.categories.items()
            },
            "statuses": {str(key): copy.deepcopy(row) for key, row in self.statuses.items()},
            "product_rows": copy.deepcopy(self.product_rows),
            "user_options": {str(key): copy.deepcopy(v) for key, v in self.user_options.items()},
            "lead_contacts": {str(key): copy.deepcopy(v) for key, v in self.lead_contacts.items()},
            "stage_history": copy.deepcopy(self.stage_history),
        }

    @classmethod
    def from_json(cls, data: Any) -> Extras:
        """Tables from ``to_json`` output; empty ones when ``data`` is None (an older state file)."""
        extras = cls()
        if data is None:
            return extras
        extras.types = {int(t["id"]): copy.deepcopy(t) for t in data["types"]}
        extras.categories = {
            int(key): {int(row["id"]): copy.deepcopy(row) for row in rows}
            for key, rows in data["categories"].items()
        }
        extras.statuses = {int(key): copy.deepcopy(row) for key, row in data["statuses"].items()}
        extras.product_rows = {str(key): copy.deepcopy(rows) for key, rows in data["product_rows"].items()}
        extras.user_options = {int(key): copy.deepcopy(v) for key, v in data["user_options"].items()}
        extras.lead_contacts = {
            int(key): copy.deepcopy(v) for key, v in data.get("lead_contacts", {}).items()
        }
        extras.stage_history = copy.deepcopy(data.get("stage_history", []))
        return extras
