"""Communications (phones, e-mails): how the portal finds records by them, and when two are the same.

protocol §9.6: ``crm.duplicate.findbycomm`` takes one type per command and at most 20 values, and
searches leads, contacts and companies only; protocol §9.5: the ``fm`` entries hold the values. Two
values are the same communication when their normalised forms are equal: e-mails ignoring case and
surrounding blanks, phones by their digits alone (``+7 (999) 123-45-67`` is ``79991234567``), other
types ignoring surrounding blanks.
"""

from __future__ import annotations

from typing import Final

FIND_METHOD: Final = "crm.duplicate.findbycomm"
VALUES_PER_FIND: Final = 20
"""protocol §9.6: the portal reads only the first 20 values of one findbycomm command."""

MATCH_KEYS: Final = {"email": "EMAIL", "phone": "PHONE"}
"""Upsert ``match`` keys that name a communication rather than a field, and their ``typeId``."""

FIND_ENTITIES: Final = {1: "LEAD", 3: "CONTACT", 4: "COMPANY"}
"""The entity types findbycomm searches (``entity_type``), by crm.item entityTypeId."""

FM_TYPES: Final = ("PHONE", "EMAIL", "WEB", "IM", "LINK")
"""protocol §9.5: the ``typeId`` of a multifield entry."""

DEFAULT_VALUE_TYPE: Final = "WORK"


def normalise(type_id: str, value: object) -> str:
    """The form in which two values of a communication type compare equal."""
    text = "" if value is None else str(value).strip()
    if type_id.upper() == "PHONE":
        return "".join(char for char in text if char in "0123456789")
    if type_id.upper() == "EMAIL":
        return text.lower()
    return text
