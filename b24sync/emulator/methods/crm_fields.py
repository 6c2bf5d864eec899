"""The one CRM field registry: names in both families, types, flags, and value conversion.

``crm.item.*`` (camelCase), the old ``crm.lead|deal|contact|company.*`` (UPPER_CASE) and their
``*.fields`` methods all read this table (protocol §11: one field registry). Stored values are
typed (ints, floats, ``"Y"``/``"N"``, ``YYYY-MM-DD`` dates, ISO datetimes); each family renders
them its own way (protocol §10.1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timezone
from typing import Any

from .. import dates
from ..store import Store
from .params import to_float, to_int, to_yn

INT_TYPES = frozenset(
    {
        "integer",
        "user",
        "crm_company",
        "crm_contact",
        "crm_lead",
        "crm_deal",
        "crm_quote",
        "crm_category",
        "employee",
    }
)
TYPE_NAMES = {1: "Lead", 2: "Deal", 3: "Contact", 4: "Company"}
# protocol §9.5 (LINK exists too but is not written through these methods)
MULTIFIELD_TYPES = ("PHONE", "EMAIL", "WEB", "IM")


@dataclass(frozen=True)
class CrmField:
    """One field: its camelCase and UPPER names, type and flags as ``*.fields`` reports them.

    ``family`` limits a field to one family of methods: ``item`` (crm.item only, such as ``fm``)
    or ``legacy`` (the old methods only, such as the address parts ``ADDRESS_CITY``).
    """

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
    family: str | None = None
    enum: tuple[tuple[int, str], ...] = ()


def _f(camel: str, upper: str, type_: str, title: str, **flags: Any) -> CrmField:
    return CrmField(camel, upper, type_, title, **flags)


def _legacy(upper: str, type_: str, title: str, **flags: Any) -> CrmField:
    """A field only the old methods have; its stored name is the camelCase of the UPPER one."""
    head, *rest = upper.lower().split("_")
    return CrmField(
        head + "".join(part.capitalize() for part in rest), upper, type_, title, family="legacy", **flags
    )


_MULTIFIELD_TITLES = ("Phone", "E-mail", "Website", "Messenger")
# how the old *.fields methods describe PHONE, EMAIL, WEB and IM
LEGACY_MULTIFIELDS = tuple(
    CrmField(kind.lower(), kind, "crm_multifield", title, multiple=True)
    for kind, title in zip(MULTIFIELD_TYPES, _MULTIFIELD_TITLES, strict=True)
)
_UTM = tuple(
    _f(f"utm{part.capitalize()}", f"UTM_{part.upper()}", "string", title)
    for part, title in (
        ("source", "Advertising system"),
        ("medium", "Traffic type"),
        ("campaign", "Campaign"),
        ("content", "Campaign content"),
        ("term", "Campaign search term"),
    )
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
    _f("originatorId", "ORIGINATOR_ID", "string", "External source"),
    _f("originId", "ORIGIN_ID", "string", "Item ID in data source"),
    *_UTM,
    _f("lastActivityTime", "LAST_ACTIVITY_TIME", "datetime", "Last activity", read_only=True),
    _f("lastActivityBy", "LAST_ACTIVITY_BY", "user", "Last activity by", read_only=True),
)
_SOURCE = (
    _f("sourceId", "SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("sourceDescription", "SOURCE_DESCRIPTION", "text", "Source information"),
)
_PERSON = (
    _f("honorific", "HONORIFIC", "crm_status", "Salutation", status_type="HONORIFIC"),
    _f("name", "NAME", "string", "First name"),
    _f("secondName", "SECOND_NAME", "string", "Second name"),
    _f("lastName", "LAST_NAME", "string", "Last name"),
    _f("post", "POST", "string", "Position"),
    _f("birthdate", "BIRTHDATE", "date", "Date of birth"),
)


def _address(prefix: str, camel: str, title: str) -> tuple[CrmField, ...]:
    """An address: one text in crm.item, its parts in the old methods (protocol §9.3)."""
    parts = (
        ("2", "line 2", "string"),
        ("CITY", "city", "string"),
        ("POSTAL_CODE", "postal code", "string"),
        ("REGION", "region", "string"),
        ("PROVINCE", "province", "string"),
        ("COUNTRY", "country", "string"),
        ("COUNTRY_CODE", "country code", "string"),
        ("LOC_ADDR_ID", "location address id", "integer"),
    )
    whole = (_f(camel, prefix, "text", title),) if camel else (_legacy(prefix, "string", title),)
    return (*whole, *(_legacy(f"{prefix}_{part}", kind, f"{title}: {name}") for part, name, kind in parts))


_COMMUNICATION = (
    _f("fm", "FM", "crm_multifield", "Multifields", multiple=True, family="item"),
    _f("hasPhone", "HAS_PHONE", "boolean", "Has phone", read_only=True),
    _f("hasEmail", "HAS_EMAIL", "boolean", "Has e-mail", read_only=True),
    _f("hasImol", "HAS_IMOL", "boolean", "Has an open channel", read_only=True),
)
_MONEY = (
    _f("opportunity", "OPPORTUNITY", "double", "Amount"),
    _f("isManualOpportunity", "IS_MANUAL_OPPORTUNITY", "boolean", "Amount entered by hand"),
    _f("currencyId", "CURRENCY_ID", "crm_currency", "Currency"),
)
_MOVED = (
    _f("movedBy", "MOVED_BY_ID", "user", "Stage changed by", read_only=True),
    _f("movedTime", "MOVED_TIME", "datetime", "Stage changed on", read_only=True),
)
_STANDARD: dict[int, tuple[CrmField, ...]] = {
    1: (
        *_COMMON,
        _f("title", "TITLE", "string", "Lead name"),
        *_PERSON,
        _f("companyTitle", "COMPANY_TITLE", "string", "Company name"),
        *_SOURCE,
        # crm.item calls the lead's status stageId (protocol §9.2)
        _f("stageId", "STATUS_ID", "crm_status", "Stage", status_type="STATUS"),
        _f("statusDescription", "STATUS_DESCRIPTION", "text", "Stage information"),
        _f("stageSemanticId", "STATUS_SEMANTIC_ID", "string", "Stage group", read_only=True),
        *_address("ADDRESS", "address", "Address"),
        *_MONEY,
        _f("companyId", "COMPANY_ID", "crm_company", "Company"),
        _f("contactId", "CONTACT_ID", "crm_contact", "Contact"),
        _f("contactIds", "CONTACT_IDS", "crm_contact", "Contacts", multiple=True, family="legacy"),
        _f("isReturnCustomer", "IS_RETURN_CUSTOMER", "boolean", "Repeat lead", read_only=True),
        _f("dateClosed", "DATE_CLOSED", "datetime", "Closed on", read_only=True),
        *_MOVED,
        *_COMMUNICATION,
    ),
    2: (
        *_COMMON,
        _f("title", "TITLE", "string", "Name"),
        _f("typeId", "TYPE_ID", "crm_status", "Type", status_type="DEAL_TYPE"),
        _f("categoryId", "CATEGORY_ID", "crm_category", "Pipeline", immutable=True),
        _f("stageId", "STAGE_ID", "crm_status", "Stage", status_type="DEAL_STAGE"),
        _f("stageSemanticId", "STAGE_SEMANTIC_ID", "string", "Stage group", read_only=True),
        _f("isNew", "IS_NEW", "boolean", "New deal", read_only=True),
        _f("isRecurring", "IS_RECURRING", "boolean", "Recurring deal"),
        _f("isReturnCustomer", "IS_RETURN_CUSTOMER", "boolean", "Repeat deal"),
        _f("isRepeatedApproach", "IS_REPEATED_APPROACH", "boolean", "Repeated approach"),
        _f("probability", "PROBABILITY", "integer", "Probability"),
        *_MONEY,
        _f("taxValue", "TAX_VALUE", "double", "Tax"),
        _f("companyId", "COMPANY_ID", "crm_company", "Company"),
        _f("contactId", "CONTACT_ID", "crm_contact", "Contact", deprecated=True),
        _f("contactIds", "CONTACT_IDS", "crm_contact", "Contacts", multiple=True),
        _f("quoteId", "QUOTE_ID", "crm_quote", "Estimate", read_only=True),
        _f("begindate", "BEGINDATE", "date", "Start date"),
        _f("closedate", "CLOSEDATE", "date", "Estimated close date"),
        _f("closed", "CLOSED", "boolean", "Closed"),
        *_SOURCE,
        _f("leadId", "LEAD_ID", "crm_lead", "Lead", read_only=True),
        _f("additionalInfo", "ADDITIONAL_INFO", "string", "Additional information"),
        _f("locationId", "LOCATION_ID", "location", "Location"),
        *_MOVED,
    ),
    3: (
        *_COMMON,
        *_PERSON,
        _f("photo", "PHOTO", "file", "Photo"),
        _f("typeId", "TYPE_ID", "crm_status", "Contact type", status_type="CONTACT_TYPE"),
        *_SOURCE,
        *_address("ADDRESS", "address", "Address"),
        _f("export", "EXPORT", "boolean", "Included in export"),
        _f("companyId", "COMPANY_ID", "crm_company", "Company", deprecated=True),
        _f("companyIds", "COMPANY_IDS", "crm_company", "Companies", multiple=True),
        _f("leadId", "LEAD_ID", "crm_lead", "Lead", read_only=True),
        _f("originVersion", "ORIGIN_VERSION", "string", "Original version"),
        *_COMMUNICATION,
    ),
    4: (
        *_COMMON,
        _f("title", "TITLE", "string", "Company name"),
        # crm.item calls the company's type typeId (protocol §9.2)
        _f("typeId", "COMPANY_TYPE", "crm_status", "Company type", status_type="COMPANY_TYPE"),
        _f("logo", "LOGO", "file", "Logo"),
        *_address("ADDRESS", "address", "Address"),
        _f("addressLegal", "ADDRESS_LEGAL", "text", "Legal address"),
        *_address("REG_ADDRESS", "", "Registered address"),
        _f("bankingDetails", "BANKING_DETAILS", "string", "Banking details"),
        _f("industry", "INDUSTRY", "crm_status", "Industry", status_type="INDUSTRY"),
        _f("employees", "EMPLOYEES", "crm_status", "Employees", status_type="EMPLOYEES"),
        _f("revenue", "REVENUE", "double", "Annual revenue"),
        _f("currencyId", "CURRENCY_ID", "crm_currency", "Currency"),
        _f("isMyCompany", "IS_MY_COMPANY", "boolean", "My company"),
        _f("leadId", "LEAD_ID", "crm_lead", "Lead", read_only=True),
        _f("originVersion", "ORIGIN_VERSION", "string", "Original version"),
        _f(
            "lastCommunicationTime",
            "LAST_COMMUNICATION_TIME",
            "string",
            "Last communication",
            read_only=True,
            family="legacy",
        ),
        *_COMMUNICATION,
    ),
}
# defaults of a new record before the caller's fields apply (protocol §9.2: title "<Type> #<id>")
_DEFAULTS: dict[int, dict[str, Any]] = {
    1: {
        "stageId": "NEW",
        "opportunity": 0.0,
        "currencyId": "RUB",
        "opened": "Y",
        "isManualOpportunity": "N",
        "isReturnCustomer": "N",
        "hasImol": "N",
    },
    2: {
        "typeId": "SALE",
        "categoryId": 0,
        "stageId": "NEW",
        "opportunity": 0.0,
        "currencyId": "RUB",
        "closed": "N",
        "opened": "Y",
        "isManualOpportunity": "N",
        "isRecurring": "N",
        "isReturnCustomer": "N",
        "isRepeatedApproach": "N",
        "taxValue": 0.0,
    },
    3: {"typeId": "CLIENT", "opened": "Y", "export": "Y", "hasImol": "N"},
    4: {"typeId": "CUSTOMER", "isMyCompany": "N", "currencyId": "RUB", "opened": "Y", "hasImol": "N"},
}


def uf_camel(upper: str) -> str:
    """The crm.item name of a custom field: ``UF_CRM_3_DIGIT`` -> ``ufCrm3Digit`` (protocol §9.2)."""
    parts = upper[len("UF_CRM_") :].split("_")
    if len(parts) > 1 and parts[0].isdigit() and all(p.isdigit() or p.isalpha() for p in parts[1:]):
        return "ufCrm" + parts[0] + "".join("_" + p if p.isdigit() else p.capitalize() for p in parts[1:])
    return "ufCrm_" + upper[len("UF_CRM_") :]


# protocol §9.2: a smart process's own fields (RD crm/universal/object-fields.md, "SPA")
_SMART = (
    _f("id", "ID", "integer", "ID", read_only=True),
    _f("xmlId", "XML_ID", "string", "External code"),
    _f("title", "TITLE", "string", "Name"),
    _f("createdBy", "CREATED_BY", "user", "Created by", read_only=True),
    _f("updatedBy", "UPDATED_BY", "user", "Modified by", read_only=True),
    _f("createdTime", "CREATED_TIME", "datetime", "Created on", read_only=True),
    _f("updatedTime", "UPDATED_TIME", "datetime", "Modified on", read_only=True),
    _f("assignedById", "ASSIGNED_BY_ID", "user", "Responsible person"),
    _f("opened", "OPENED", "boolean", "Available to everyone"),
    _f("categoryId", "CATEGORY_ID", "crm_category", "Pipeline", immutable=True),
    _f("stageId", "STAGE_ID", "crm_status", "Stage"),
    _f("previousStageId", "PREVIOUS_STAGE_ID", "crm_status", "Previous stage", read_only=True),
    _f("begindate", "BEGINDATE", "date", "Start date"),
    _f("closedate", "CLOSEDATE", "date", "End date"),
    _f("companyId", "COMPANY_ID", "crm_company", "Company"),
    _f("contactId", "CONTACT_ID", "crm_contact", "Contact", deprecated=True),
    _f("contactIds", "CONTACT_IDS", "crm_contact", "Contacts", multiple=True),
    *_MONEY,
    _f("taxValue", "TAX_VALUE", "double", "Tax"),
    _f("mycompanyId", "MYCOMPANY_ID", "crm_company", "Your company details"),
    *_SOURCE,
    _f("observers", "OBSERVERS", "user", "Observers", multiple=True),
    *_MOVED,
    _f("lastActivityTime", "LAST_ACTIVITY_TIME", "datetime", "Last activity", read_only=True),
    _f("lastActivityBy", "LAST_ACTIVITY_BY", "user", "Last activity by", read_only=True),
)
FIRST_SMART_PROCESS = 128


def is_crm_type(store: Store, type_id: int) -> bool:
    """A classic CRM type, or a smart process the portal has."""
    return type_id in TYPE_NAMES or (
        type_id >= FIRST_SMART_PROCESS and store.extras.type_by_entity(type_id) is not None
    )


def type_title(store: Store, type_id: int) -> str:
    """How a record of the type is named by default: ``Deal``, or the smart process's title."""
    smart = store.extras.type_by_entity(type_id)
    return str(smart["title"]) if smart is not None else TYPE_NAMES[type_id]


def default_category(store: Store, type_id: int) -> int:
    """The id of a type's default pipeline (0 for deals)."""
    rows = store.extras.categories.get(type_id, {})
    return next((row["id"] for row in rows.values() if row["isDefault"] == "Y"), 0)


def _smart_fields(store: Store, type_id: int) -> tuple[CrmField, ...]:
    stage = f"DYNAMIC_{type_id}_STAGE_{default_category(store, type_id)}"
    return tuple(
        replace(spec, status_type=stage) if spec.camel in ("stageId", "previousStageId") else spec
        for spec in _SMART
    )


def fields_of(store: Store, type_id: int, family: str | None = None) -> list[CrmField]:
    """Every field of a CRM type: the standard ones, then the portal's custom fields; ``family``
    (``item`` or ``legacy``) leaves out the fields the other family of methods lacks."""
    custom = [
        CrmField(
            uf_camel(name),
            name,
            spec["type"],
            spec["label"],
            multiple=spec["multiple"],
            dynamic=True,
            enum=tuple((int(item["ID"]), str(item["VALUE"])) for item in spec.get("list", [])),
        )
        for name, spec in store.userfields.get(type_id, {}).items()
    ]
    standard = _STANDARD.get(type_id) or _smart_fields(store, type_id)
    return [spec for spec in (*standard, *custom) if family is None or spec.family in (None, family)]


def by_camel(store: Store, type_id: int, family: str | None = None) -> dict[str, CrmField]:
    """Fields keyed by camelCase name."""
    return {field.camel: field for field in fields_of(store, type_id, family)}


def by_upper(store: Store, type_id: int, family: str | None = None) -> dict[str, CrmField]:
    """Fields keyed by UPPER name."""
    return {field.upper: field for field in fields_of(store, type_id, family)}


def defaults(type_id: int, store: Store | None = None) -> dict[str, Any]:
    """Field values a new record starts with; a smart process starts in its default pipeline's
    first stage."""
    if type_id in _DEFAULTS:
        return dict(_DEFAULTS[type_id])
    category = default_category(store, type_id) if store is not None else 0
    return {
        "categoryId": category,
        "stageId": f"DT{type_id}_{category}:NEW",
        "opportunity": 0.0,
        "currencyId": "RUB",
        "opened": "N",
        "isManualOpportunity": "N",
        "taxValue": 0.0,
    }


def coerce(field: CrmField, raw: Any, zone: timezone) -> Any:
    """One input value in the stored type; ValueError when it cannot be read as that type."""
    if raw is None or (raw == "" and field.type != "boolean"):
        return None
    if isinstance(raw, (dict, list)):
        raise ValueError(field.camel)
    if field.type == "file":
        return None  # files are uploaded as [name, base64]; the emulator keeps no file content
    if field.type == "enumeration":
        # protocol §9.2: an enumeration takes the option ID; an unknown one is refused
        number = to_int(raw)
        if number is None or (field.enum and number not in {option for option, _ in field.enum}):
            raise ValueError(field.camel)
        return number
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
    # protocol §9.9: the old methods call Y/N flags "char" and long texts "string"
    shown = field.type if with_upper else {"boolean": "char", "text": "string"}.get(field.type, field.type)
    entry: dict[str, Any] = {
        "type": shown,
        "isRequired": required,
        "isReadOnly": field.read_only,
        "isImmutable": field.immutable,
        "isMultiple": field.multiple,
        "isDynamic": field.dynamic,
        "title": title,
    }
    if field.dynamic:
        entry.update(listLabel=field.title, formLabel=field.title, filterLabel=field.title)
        entry["settings"] = {}
    if field.type == "enumeration":
        entry["items"] = [{"ID": str(option), "VALUE": label} for option, label in field.enum]
    if field.status_type:
        entry["statusType"] = field.status_type
    if field.deprecated:
        entry["isDeprecated"] = True
    if with_upper:
        entry["upperName"] = field.upper
    return entry
