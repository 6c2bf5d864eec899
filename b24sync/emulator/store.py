"""The emulated portal's data: users, CRM records, links, tasks, and their id sequences.

Records are kept in the form the methods read back (camelCase keys, typed values, dates already
as ISO 8601 text with the portal offset), each table a ``tables.Table`` in ascending id order, so
that list methods can walk ids without sorting and look values up by index (a new kind of entity
gets the same by keeping its records in a ``Table`` and building them as ``tables.Record``). Not
thread-safe by itself: the emulator's core serialises every call under one lock.
"""

from __future__ import annotations

import copy
from datetime import timezone
from typing import Any

from . import dates
from .extras import Extras
from .tables import Record, Table

FORMAT_VERSION = 1
CRM_TYPES: dict[int, str] = {1: "lead", 2: "deal", 3: "contact", 4: "company"}

_SEED_USERS: tuple[dict[str, Any], ...] = (
    {
        "ID": 1,
        "NAME": "Admin",
        "LAST_NAME": "Adminov",
        "EMAIL": "admin@example.com",
        "ADMIN": True,
        "UF_DEPARTMENT": [1],
        "WORK_POSITION": "Administrator",
    },
    {
        "ID": 2,
        "NAME": "Anna",
        "LAST_NAME": "Petrova",
        "EMAIL": "anna@example.com",
        "ADMIN": False,
        "UF_DEPARTMENT": [1],
        "WORK_POSITION": "Sales manager",
    },
    {
        "ID": 3,
        "NAME": "Boris",
        "LAST_NAME": "Ivanov",
        "EMAIL": "boris@example.com",
        "ADMIN": False,
        "UF_DEPARTMENT": [2],
        "WORK_POSITION": "Support",
    },
)
_SEED_REGISTERED = "2024-01-01"


class Store:
    """An emulated portal: empty but for three seeded users (id 1 is the administrator)."""

    def __init__(self, tz_offset: str = "+03:00") -> None:
        self.zone: timezone = dates.parse_offset(tz_offset)
        self.users: dict[int, dict[str, Any]] = Table()
        self.crm: dict[int, dict[int, dict[str, Any]]] = {type_id: Table() for type_id in CRM_TYPES}
        self.task_table: dict[int, dict[str, Any]] = Table()
        # timeline comments and to-do activities on CRM records
        self.comment_table: dict[int, dict[str, Any]] = Table()
        self.activity_table: dict[int, dict[str, Any]] = Table()
        # deal id -> [{"contactId", "sort", "roleId", "isPrimary"}], contact id -> company links alike
        self.deal_contacts: dict[int, list[dict[str, Any]]] = {}
        self.contact_companies: dict[int, list[dict[str, Any]]] = {}
        # entity type -> UF_CRM_* name -> {"id", "type", "multiple", "label", "sort"}: custom fields
        self.userfields: dict[int, dict[str, dict[str, Any]]] = {type_id: {} for type_id in CRM_TYPES}
        # entity type -> camelCase names the portal's settings make required
        self.required: dict[int, list[str]] = {type_id: [] for type_id in CRM_TYPES}
        self.sequences: dict[str, int] = {}
        # smart-process types, pipelines, added status lists, product rows (b24sync.emulator.extras);
        # a smart process's records, custom fields and required fields live in crm, userfields and
        # required under its entityTypeId
        self.extras = Extras()
        for seed in _SEED_USERS:
            self.users[seed["ID"]] = self._new_user(seed)
            self.sequences["user"] = seed["ID"]

    def _new_user(self, seed: dict[str, Any]) -> dict[str, Any]:
        return Record(
            {
                "ID": seed["ID"],
                "ACTIVE": True,
                "NAME": seed["NAME"],
                "LAST_NAME": seed["LAST_NAME"],
                "SECOND_NAME": "",
                "EMAIL": seed["EMAIL"],
                "ADMIN": seed["ADMIN"],
                "WORK_POSITION": seed["WORK_POSITION"],
                "PERSONAL_GENDER": "",
                "TIME_ZONE": "",
                "DATE_REGISTER": dates.format_date(_SEED_REGISTERED, self.zone),
                "IS_ONLINE": "N",
                "USER_TYPE": "employee",
                "UF_DEPARTMENT": list(seed["UF_DEPARTMENT"]),
            }
        )

    @property
    def tz_offset(self) -> str:
        """The portal's offset as ``+03:00``."""
        return dates.format_offset(self.zone)

    def next_id(self, sequence: str) -> int:
        """The next id of a sequence (``crm:2``, ``task``, ``fm``, ``user``); ids are never reused."""
        value = self.sequences.get(sequence, 0) + 1
        self.sequences[sequence] = value
        return value

    def iso(self, timestamp: float) -> str:
        """A Unix time as ISO 8601 with the portal offset."""
        return dates.format_datetime(timestamp, self.zone)

    def add_user(
        self, name: str, last_name: str, email: str, admin: bool = False, department: int = 1
    ) -> int:
        """Add an active employee (tests and demos need more than the seeded three); returns its id."""
        user_id = self.next_id("user")
        self.users[user_id] = self._new_user(
            {
                "ID": user_id,
                "NAME": name,
                "LAST_NAME": last_name,
                "EMAIL": email,
                "ADMIN": admin,
                "UF_DEPARTMENT": [department],
                "WORK_POSITION": "",
            }
        )
        return user_id

    def add_userfield(
        self,
        entity_type_id: int,
        field_name: str,
        user_type: str = "string",
        multiple: bool = False,
        label: str = "",
        sort: int = 100,
    ) -> int:
        """Declare a custom field ``UF_CRM_...`` (string/integer/double/boolean/date/datetime); its id."""
        if entity_type_id not in self.crm:
            raise ValueError(f"no CRM entity type {entity_type_id}")
        if not field_name.startswith("UF_CRM_"):
            raise ValueError(f"a custom field name starts with UF_CRM_, got {field_name!r}")
        if user_type not in ("string", "integer", "double", "boolean", "date", "datetime", "enumeration"):
            raise ValueError(f"unsupported custom field type {user_type!r}")
        existing = self.userfields[entity_type_id].get(field_name)
        field_id = existing["id"] if existing else self.next_id("userfield")
        self.userfields[entity_type_id][field_name] = {
            "id": field_id,
            "type": user_type,
            "multiple": multiple,
            "label": label or field_name,
            "sort": sort,
        }
        return field_id

    def require(self, entity_type_id: int, camel_name: str) -> None:
        """Make a field required on add, as a portal administrator can."""
        if camel_name not in self.required[entity_type_id]:
            self.required[entity_type_id].append(camel_name)

    def items(self, entity_type_id: int) -> list[dict[str, Any]]:
        """Copies of the stored records of a CRM type, in id order (for tests' assertions)."""
        return copy.deepcopy(list(self.crm[entity_type_id].values()))

    def tasks(self) -> list[dict[str, Any]]:
        """Copies of the stored tasks, in id order."""
        return copy.deepcopy(list(self.task_table.values()))

    def comments(self) -> list[dict[str, Any]]:
        """Copies of the stored timeline comments, in id order."""
        return copy.deepcopy(list(self.comment_table.values()))

    def activities(self) -> list[dict[str, Any]]:
        """Copies of the stored to-do activities, in id order."""
        return copy.deepcopy(list(self.activity_table.values()))

    def stats(self) -> dict[str, int]:
        """How many records each table holds."""
        counts = {
            f"{name}s" if name != "company" else "companies": len(self.crm[type_id])
            for type_id, name in CRM_TYPES.items()
        }
        counts["users"] = len(self.users)
        counts["tasks"] = len(self.task_table)
        counts["comments"] = len(self.comment_table)
        counts["activities"] = len(self.activity_table)
        counts["deal_contacts"] = sum(len(links) for links in self.deal_contacts.values())
        counts["contact_companies"] = sum(len(links) for links in self.contact_companies.values())
        return counts

    def to_json(self) -> dict[str, Any]:
        """Everything as JSON-ready data; ``Store.from_json`` restores it exactly."""
        return {
            "version": FORMAT_VERSION,
            "tz_offset": self.tz_offset,
            "sequences": dict(self.sequences),
            "users": copy.deepcopy(list(self.users.values())),
            "crm": {str(type_id): copy.deepcopy(list(table.values())) for type_id, table in self.crm.items()},
            "tasks": copy.deepcopy(list(self.task_table.values())),
            "comments": copy.deepcopy(list(self.comment_table.values())),
            "activities": copy.deepcopy(list(self.activity_table.values())),
            "deal_contacts": {str(key): copy.deepcopy(links) for key, links in self.deal_contacts.items()},
            "contact_companies": {
                str(key): copy.deepcopy(links) for key, links in self.contact_companies.items()
            },
            "userfields": {str(key): copy.deepcopy(fields) for key, fields in self.userfields.items()},
            "required": {str(key): list(names) for key, names in self.required.items()},
            "extras": self.extras.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Store:
        """A store from ``to_json`` output; ValueError when the data is not such output."""
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError(f"not an emulator state of format version {FORMAT_VERSION}")
        try:
            store = cls(data["tz_offset"])
            store.sequences = {str(key): int(value) for key, value in data["sequences"].items()}
            store.users = _by_id(data["users"], "ID")
            # smart processes add their entityTypeIds beside the four classic ones
            types = sorted({*CRM_TYPES, *(int(key) for key in data["crm"])})
            store.crm = {type_id: _by_id(data["crm"].get(str(type_id), []), "id") for type_id in types}
            store.task_table = _by_id(data["tasks"], "id")
            store.comment_table = _by_id(data["comments"], "id")
            store.activity_table = _by_id(data["activities"], "id")
            store.deal_contacts = {
                int(key): copy.deepcopy(rows) for key, rows in data["deal_contacts"].items()
            }
            store.contact_companies = {
                int(key): copy.deepcopy(rows) for key, rows in data["contact_companies"].items()
            }
            store.userfields = {key: copy.deepcopy(data["userfields"].get(str(key), {})) for key in types}
            store.required = {key: list(data["required"].get(str(key), [])) for key in types}
            store.extras = Extras.from_json(data.get("extras"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"emulator state is incomplete or malformed: {exc}") from exc
        return store


def _by_id(records: list[dict[str, Any]], key: str) -> Table:
    """Records as a table in ascending id order, as list methods expect."""
    table = Table()
    for record in sorted(records, key=lambda r: int(r[key])):
        table[int(record[key])] = Record(copy.deepcopy(record))
    return table
