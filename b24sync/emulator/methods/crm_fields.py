"""The one CRM field registry: names in both families, types, flags, and value conversion.

``crm.item.*`` (camelCase), the old ``crm.lead|deal|contact|company.*`` (UPPER_CASE) and their
``*.fields`` methods all read this table (protocol §11: one field registry). Stored values are
typed (ints, floats, ``"Y"``/``"N"``, ``YYYY-MM-DD`` dates, ISO datetimes); each family renders
them its own way (protocol §10.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone
from typing import Any

from .. import dates
from ..store import Store
from .params import to_float, to_int, to_yn

INT_TYPES = frozenset(
    {"integer", "user", "crm_company", "crm_contact", "crm_lead", "crm_deal", "crm_category"}
)
TYPE_NAMES = {1: "Lead", 2: "Deal", 3: "Contact", 4: "Company"}
# protocol §9.5 (LINK exists too but is not written through these methods)
MULTIFIELD_TYPES = ("PHONE", "EMAIL", "WEB", "IM")


@dataclass(frozen=True)
class CrmField:
    """One field: its camelCase and UPPER names, type and flags as ``*.fields`` reports them."""

    camel: str
    upper: str
    type: str
    title: str
    read_only: bool = False
    immutable: bool = False
    multiple: bool = False
    dynamic: bool = False
    status_type: str | None = None
    deprecated: bool = False


def _f(camel: str, upper: str, type_: str, title: str, **flags: Any) -> CrmField:
    return CrmField(camel, upper, type_, title, **flags)


_MULTIFIELD_TITLES = ("Phone", "E-mail", "Website", "Messenger")
# how the old *.fields methods describe PHONE, EMAIL, WEB and IM
LEGACY_MULTIFIELDS = tuple(
    CrmField(kind.lower(), kind, "crm_multifield", title, multiple=True)
    for kind, title in zip(MULTIFIELD_TYPES, _MULTIFIELD_TITLES, strict=True)
)
_COMMON = (
    _f("id", "ID", "integer", "ID", read_only=True),
    _f("createdTime", "DATE_CREATE", "datetime", "Created on", read_only=True),
    _f("updatedTime", "DATE_MODIFY", "datetime", "Modified on", read_only=True),
    _f("createdBy", "CREATED_BY_ID", "user", "Created by", read_only=True),
    _f("updatedBy", "MODIFY_BY_ID", "user", "Modified by", read_only=True),
    _f("assignedById", "ASSIGNED_BY_ID", "user", "Responsible person"),
    _f("opened", "OPENED", "boolean", "Available to everyone"),
    _f("comments", "COMMENTS", "text", "Comment"),
    _f("sourceId", "SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("originatorId", "ORIGINATOR_ID", "string", "External source"),
    _f("originId", "ORIGIN_ID", "string", "Item ID in data source"),
)
_PERSON = (
    _f("name", "NAME", "string", "First name"),
    _f("secondName", "SECOND_NAME", "string", "Second name"),
    _f("lastName", "LAST_NAME", "string", "Last name"),
    _f("post", "POST", "string", "Position"),
    _f("birthdate", "BIRTHDATE", "date", "Date of birth"),
)
_COMMUNICATION = (
    _f("fm", "FM", "crm_multifield", "Multifields", multiple=True),
    _f("hasPhone", "HAS_PHONE", "boolean", "Has phone", read_only=True),
    _f("hasEmail", "HAS_EMAIL", "boolean", "Has e-mail", read_only=True),
)
_MONEY = (
    _f("opportunity", "OPPORTUNITY", "double", "Amount"),
    _f("currencyId", "CURRENCY_ID", "crm_currency", "Currency"),
)
_STANDARD: dict[int, tuple[CrmField, ...]] = {
    1: (
        *_COMMON,
        _f("title", "TITLE", "string", "Lead name"),
        *_PERSON,
        _f("companyTitle", "COMPANY_TITLE", "string", "Company name"),
        _f("statusId", "STATUS_ID", "crm_status", "Stage", status_type="STATUS"),
        *_MONEY,
        _f("companyId", "COMPANY_ID", "crm_company", "Company"),
        _f("contactId", "CONTACT_ID", "crm_contact", "Contact"),
        *_COMMUNICATION,
    ),
    2: (
        *_COMMON,
        _f("title", "TITLE", "string", "Name"),
        _f("typeId", "TYPE_ID", "crm_status", "Type", status_type="DEAL_TYPE"),
        _f("categoryId", "CATEGORY_ID", "crm_category", "Pipeline", immutable=True),
        _f("stageId", "STAGE_ID", "crm_status", "Stage", status_type="DEAL_STAGE"),
        _f("probability", "PROBABILITY", "integer", "Probability"),
        *_MONEY,
        _f("companyId", "COMPANY_ID", "crm_company", "Company"),
        _f("contactId", "CONTACT_ID", "crm_contact", "Contact", deprecated=True),
        _f("contactIds", "CONTACT_IDS", "crm_contact", "Contacts", multiple=True),
        _f("begindate", "BEGINDATE", "date", "Start date"),
        _f("closedate", "CLOSEDATE", "date", "Estimated close date"),
        _f("closed", "CLOSED", "boolean", "Closed"),
        _f("leadId", "LEAD_ID", "crm_lead", "Lead"),
    ),
    3: (
        *_COMMON,
        *_PERSON,
        _f("typeId", "TYPE_ID", "crm_status", "Contact type", status_type="CONTACT_TYPE"),
        _f("companyId", "COMPANY_ID", "crm_company", "Company", deprecated=True),
        _f("companyIds", "COMPANY_IDS", "crm_company", "Companies", multiple=True),
        _f("originVersion", "ORIGIN_VERSION", "string", "Original version"),
        *_COMMUNICATION,
    ),
    4: (
        *_COMMON,
        _f("title", "TITLE", "string", "Company name"),
        _f("companyType", "COMPANY_TYPE", "crm_status", "Company type", status_type="COMPANY_TYPE"),
        _f("industry", "INDUSTRY", "crm_status", "Industry", status_type="INDUSTRY"),
        _f("revenue", "REVENUE", "double", "Annual revenue"),
        _f("currencyId", "CURRENCY_ID", "crm_currency", "Currency"),
        _f("isMyCompany", "IS_MY_COMPANY", "boolean", "My company"),
        _f("originVersion", "ORIGIN_VERSION", "string", "Original version"),
        *_COMMUNICATION,
    ),
}
# defaults of a new record before the caller's fields apply (protocol §9.2: title "<Type> #<id>")
_DEFAULTS: dict[int, dict[str, Any]] = {
    1: {"statusId": "NEW", "opportunity": 0.0, "currencyId": "RUB", "opened": "Y"},
    2: {
        "typeId": "SALE",
        "categoryId": 0,
        "stageId": "NEW",
        "opportunity": 0.0,
        "currencyId": "RUB",
        "closed": "N",
        "opened": "Y",
    },
    3: {"typeId": "CLIENT", "opened": "Y"},
    4: {"companyType": "CUSTOMER", "isMyCompany": "N", "currencyId": "RUB", "opened": "Y"},
}


def uf_camel(upper: str) -> str:
    """The crm.item name of a custom field: ``UF_CRM_3_DIGIT`` -> ``ufCrm3Digit`` (protocol §9.2)."""
    parts = upper[len("UF_CRM_") :].split("_")
    if len(parts) > 1 and parts[0].isdigit() and all(p.isdigit() or p.isalpha() for p in parts[1:]):
        return "ufCrm" + parts[0] + "".join("_" + p if p.isdigit() else p.capitalize() for p in parts[1:])
    return "ufCrm_" + upper[len("UF_CRM_") :]


def fields_of(store: Store, type_id: int) -> list[CrmField]:
    """Every field of a CRM type: the standard ones, then the portal's custom fields."""
    custom = [
        CrmField(uf_camel(name), name, spec["type"], spec["label"], multiple=spec["multiple"], dynamic=True)
        for name, spec in store.userfields[type_id].items()
    ]
    return [*_STANDARD[type_id], *custom]


def by_camel(store: Store, type_id: int) -> dict[str, CrmField]:
    """Fields keyed by camelCase name."""
    return {field.camel: field for field in fields_of(store, type_id)}


def by_upper(store: Store, type_id: int) -> dict[str, CrmField]:
    """Fields keyed by UPPER name."""
    return {field.upper: field for field in fields_of(store, type_id)}


def defaults(type_id: int) -> dict[str, Any]:
    """Field values a new record starts with."""
    return dict(_DEFAULTS[type_id])


def coerce(field: CrmField, raw: Any, zone: timezone) -> Any:
    """One input value in the stored type; ValueError when it cannot be read as that type."""
    if raw is None or (raw == "" and field.type != "boolean"):
        return None
    if isinstance(raw, (dict, list)):
        raise ValueError(field.camel)
    if field.type in INT_TYPES:
        number = to_int(raw)
        if number is None:
            raise ValueError(field.camel)
        return number
    if field.type == "double":
        amount = to_float(raw)
        if amount is None:
            raise ValueError(field.camel)
        return amount
    if field.type == "boolean":
        flag = to_yn(raw)
        if flag is None:
            raise ValueError(field.camel)
        return flag
    if field.type in ("date", "datetime"):
        if not isinstance(raw, str):
            raise ValueError(field.camel)
        if field.type == "date":
            day = dates.parse_date(raw, zone)
            if day is None:
                raise ValueError(field.camel)
            return day
        moment = dates.parse_datetime(raw, zone)
        if moment is None:
            raise ValueError(field.camel)
        return dates.format_datetime(moment, zone)
    if isinstance(raw, bool):
        return "Y" if raw else "N"
    return str(raw)


def filter_coercer(field: CrmField, zone: timezone) -> Any:
    """How a filter value is read for this field: like input, but a NULL-matching ``""`` stays possible."""

    def read(raw: Any) -> Any:
        if raw == "" or raw is None:
            return None
        return coerce(field, raw, zone)

    return read


def _number_out(value: float) -> float | int:
    return int(value) if value.is_integer() else value


def item_value(field: CrmField, value: Any, zone: timezone) -> Any:
    """A stored value as ``crm.item`` returns it: ints, numbers, Y/N, ISO dates, null when empty."""
    if field.multiple:
        return [] if value is None else list(value)
    if value is None:
        # protocol §10.1: crm.item gives companyId/contactId 0 when unset
        return 0 if field.camel in ("companyId", "contactId") else None
    if field.type == "double":
        return _number_out(float(value))
    if field.type == "date":
        return dates.format_date(value, zone)
    return value


def legacy_value(field: CrmField, value: Any, zone: timezone) -> Any:
    """A stored value as the old methods return it: ids and numbers as strings, empty dates ``""``."""
    if field.multiple:
        return [] if value is None else [str(item) for item in value]
    if field.type in ("date", "datetime"):
        if value is None:
            return ""
        return dates.format_date(value, zone) if field.type == "date" else value
    if value is None:
        return None
    if field.type == "double":
        # protocol §10.1: money as strings "1000000.00"
        return f"{float(value):.2f}"
    if field.type in INT_TYPES:
        return str(value)
    return value


def describe(field: CrmField, required: bool, with_upper: bool) -> dict[str, Any]:
    """The ``*.fields`` entry of a field (protocol §9.9)."""
    # protocol §9.9: old *.fields give a custom field's code as title, its label in *Label
    title = field.upper if field.dynamic and not with_upper else field.title
    entry: dict[str, Any] = {
        "type": field.type,
        "isRequired": required,
        "isReadOnly": field.read_only,
        "isImmutable": field.immutable,
        "isMultiple": field.multiple,
        "isDynamic": field.dynamic,
        "title": title,
    }
    if field.dynamic:
        entry.update(listLabel=field.title, formLabel=field.title, filterLabel=field.title)
    if field.status_type:
        entry["statusType"] = field.status_type
    if field.deprecated:
        entry["isDeprecated"] = True
    if with_upper:
        entry["upperName"] = field.upper
    return entry
