"""Product rows: ``crm.item.productrow.*`` (camelCase) and the old ``crm.deal|lead.productrows.*``.

Rows belong to a lead (``L``), a deal (``D``) or a smart-process item (``T`` + the type id in hex,
protocol §9.2). ``set`` replaces every row of the owner; the owner's amount follows its rows unless
it was entered by hand (``isManualOpportunity: Y``). Prices: ``price`` is per unit after discount
and with tax; ``priceExclusive`` without tax, ``priceNetto`` before the discount, ``priceBrutto``
before the discount with tax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..store import Store
from . import lists
from .base import Context, Handler, MethodError, Reply
from .crm_fields import CrmField, describe, is_crm_type
from .params import as_list, as_map, param, start_of, to_float, to_int, to_yn

_SHORT = {"L": 1, "D": 2}
_LEGACY_OWNERS = {"lead": 1, "deal": 2}
# camelCase name -> (UPPER name of the old methods, kind)
_COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("ID", "int"),
    "ownerId": ("OWNER_ID", "int"),
    "ownerType": ("OWNER_TYPE", "text"),
    "productId": ("PRODUCT_ID", "int"),
    "productName": ("PRODUCT_NAME", "text"),
    "price": ("PRICE", "money"),
    "priceAccount": ("PRICE_ACCOUNT", "money"),
    "priceExclusive": ("PRICE_EXCLUSIVE", "money"),
    "priceNetto": ("PRICE_NETTO", "money"),
    "priceBrutto": ("PRICE_BRUTTO", "money"),
    "quantity": ("QUANTITY", "number"),
    "discountTypeId": ("DISCOUNT_TYPE_ID", "int"),
    "discountRate": ("DISCOUNT_RATE", "number"),
    "discountSum": ("DISCOUNT_SUM", "money"),
    "taxRate": ("TAX_RATE", "number"),
    "taxIncluded": ("TAX_INCLUDED", "flag"),
    "customized": ("CUSTOMIZED", "flag"),
    "measureCode": ("MEASURE_CODE", "int"),
    "measureName": ("MEASURE_NAME", "text"),
    "sort": ("SORT", "int"),
    "xmlId": ("XML_ID", "text"),
    "type": ("TYPE", "int"),
}
_WRITABLE = (
    "productId",
    "productName",
    "price",
    "quantity",
    "discountTypeId",
    "discountRate",
    "discountSum",
    "taxRate",
    "taxIncluded",
    "measureCode",
    "measureName",
    "sort",
    "xmlId",
)
_UPPER = {upper: camel for camel, (upper, _) in _COLUMNS.items()}


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def owner_type_id(store: Store, short: str) -> int:
    """The entityTypeId a short owner code names: ``D`` deals, ``L`` leads, ``T80`` type 128."""
    code = short.strip().upper()
    if code in _SHORT:
        return _SHORT[code]
    if code.startswith("T") and len(code) > 1:
        try:
            type_id = int(code[1:], 16)
        except ValueError:
            type_id = 0
        if is_crm_type(store, type_id) and type_id >= 128:
            return type_id
    raise MethodError("ENTITY_TYPE_NOT_SUPPORTED", "Working with this type of objects is not supported")


def short_code(type_id: int) -> str:
    """The owner code of an entityTypeId."""
    return next((code for code, found in _SHORT.items() if found == type_id), f"T{type_id:x}")


def _owner(store: Store, type_id: int, owner_id: int | None) -> dict[str, Any]:
    record = store.crm.get(type_id, {}).get(owner_id or 0)
    if record is None:
        raise MethodError("OWNER_NOT_FOUND", "Owner was not found")
    return record


def _number(value: Any, default: float | None = 0.0) -> float | None:
    number = to_float(value) if value not in (None, "") else None
    return default if number is None else number


def _row(
    store: Store, type_id: int, owner_id: int, given: dict[str, Any], row_id: int | None
) -> dict[str, Any]:
    """A stored row from camelCase input, its derived prices computed."""
    price = _number(given.get("price")) or 0.0
    quantity = _number(given.get("quantity"), 1.0) or 0.0
    tax_rate = _number(given.get("taxRate"), None)
    tax_included = to_yn(given.get("taxIncluded")) or "N"
    discount_type = to_int(given.get("discountTypeId")) or 2
    tax_factor = 1 + (tax_rate or 0.0) / 100
    exclusive = price / tax_factor if tax_included == "Y" else price
    if discount_type == 1:
        discount_sum = _number(given.get("discountSum")) or 0.0
        netto = exclusive + discount_sum
        discount_rate = discount_sum / netto * 100 if netto else 0.0
    else:
        discount_rate = _number(given.get("discountRate")) or 0.0
        netto = exclusive / (1 - discount_rate / 100) if discount_rate < 100 else exclusive
        discount_sum = netto - exclusive
    row_id = row_id if row_id is not None else store.next_id("productrow")
    name = given.get("productName")
    return {
        "id": row_id,
        "ownerId": owner_id,
        "ownerType": short_code(type_id),
        "productId": to_int(given.get("productId")) or 0,
        "productName": str(name) if name not in (None, "") else f"[{row_id}]",
        "price": round(price, 2),
        "priceAccount": round(price, 2),
        "priceExclusive": round(exclusive, 2),
        "priceNetto": round(netto, 2),
        "priceBrutto": round(netto * tax_factor, 2),
        "quantity": quantity,
        "discountTypeId": discount_type,
        "discountRate": round(discount_rate, 2),
        "discountSum": round(discount_sum, 2),
        "taxRate": tax_rate,
        "taxIncluded": tax_included,
        "customized": "Y",
        "measureCode": to_int(given.get("measureCode")) or 796,
        "measureName": str(given.get("measureName") or "pcs"),
        "sort": to_int(given.get("sort")) or 10,
        "xmlId": str(given.get("xmlId") or ""),
        "type": 4 if to_int(given.get("productId")) else 1,
    }


def _key(type_id: int, owner_id: int) -> str:
    return f"{type_id}:{owner_id}"


def _set_rows(store: Store, type_id: int, owner_id: int, rows: list[dict[str, Any]]) -> None:
    store.extras.product_rows[_key(type_id, owner_id)] = rows
    if not rows:
        store.extras.product_rows.pop(_key(type_id, owner_id), None)
    record = store.crm[type_id][owner_id]
    if "opportunity" in record and record.get("isManualOpportunity") != "Y":
        record["opportunity"] = round(sum(row["price"] * row["quantity"] for row in rows), 2)


def _camel_rows(raw: Any) -> list[dict[str, Any]]:
    entries = as_list(raw) if raw not in (None, "") else []
    if entries is None:
        raise MethodError("100", "Could not find value for parameter {productRows}")
    rows = []
    for entry in entries:
        mapping = as_map(entry)
        if mapping is None:
            raise MethodError("INVALID_ARG_VALUE", "A product row must be an object")
        rows.append(dict(mapping))
    return rows


def productrow_set(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.productrow.set -> ``{"productRows": [...]}``; replaces every row of the owner."""
    store = _store(ctx)
    type_id = owner_type_id(store, str(param(params, "ownerType") or ""))
    owner_id = to_int(param(params, "ownerId"))
    _owner(store, type_id, owner_id)
    assert owner_id is not None
    rows = [
        _row(store, type_id, owner_id, given, None) for given in _camel_rows(param(params, "productRows"))
    ]
    _set_rows(store, type_id, owner_id, rows)
    return Reply({"productRows": [dict(row) for row in rows]})


def _all_rows(store: Store) -> dict[int, dict[str, Any]]:
    table = {row["id"]: row for rows in store.extras.product_rows.values() for row in rows}
    return dict(sorted(table.items()))


def _resolve(name: str) -> tuple[str, lists.Coerce] | None:
    if name not in _COLUMNS:
        return None
    kind = _COLUMNS[name][1]
    coerce: Callable[[Any], Any] = (
        to_int if kind == "int" else to_float if kind in ("money", "number") else (lambda raw: raw)
    )
    return name, coerce


def productrow_list(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.productrow.list -> ``{"productRows": [...]}``; the filter needs =ownerType and =ownerId."""
    store = _store(ctx)
    raw = as_map(param(params, "filter")) or {}
    if "=ownerType" not in raw or "=ownerId" not in raw:
        raise MethodError("INVALID_ARG_VALUE", "The filter must contain =ownerType and =ownerId")
    owner_type_id(store, str(raw["=ownerType"]))
    where = lists.parse_filter(raw, _resolve, strict=True)
    order = lists.parse_order(param(params, "order"), _resolve, strict=True) or [
        ("sort", False),
        ("id", False),
    ]
    page = lists.select_page(
        _all_rows(store), where, order, start_of(params), "exact", lambda r, n: r.get(n), "id"
    )
    return Reply({"productRows": [dict(row) for row in page.rows]}, total=page.total, next=page.next)


def _by_id(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    row = _all_rows(store).get(to_int(param(params, "id")) or 0)
    if row is None:
        raise MethodError("NOT_FOUND", "Product row not found")
    return row


def _owner_rows(store: Store, row: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    type_id = owner_type_id(store, row["ownerType"])
    return type_id, store.extras.product_rows.get(_key(type_id, row["ownerId"]), [])


def productrow_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.productrow.add -> ``{"productRow": {...}}``."""
    store = _store(ctx)
    fields = as_map(param(params, "fields")) or {}
    type_id = owner_type_id(store, str(fields.get("ownerType") or ""))
    owner_id = to_int(fields.get("ownerId"))
    _owner(store, type_id, owner_id)
    assert owner_id is not None
    row = _row(store, type_id, owner_id, dict(fields), None)
    _set_rows(store, type_id, owner_id, [*store.extras.product_rows.get(_key(type_id, owner_id), []), row])
    return Reply({"productRow": dict(row)})


def productrow_get(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.productrow.get -> ``{"productRow": {...}}``."""
    return Reply({"productRow": dict(_by_id(_store(ctx), params))})


def productrow_update(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.productrow.update -> ``{"productRow": {...}}`` after the change."""
    store = _store(ctx)
    row = _by_id(store, params)
    type_id, rows = _owner_rows(store, row)
    given = {name: row[name] for name in _WRITABLE}
    given.update({k: v for k, v in (as_map(param(params, "fields")) or {}).items() if k in _WRITABLE})
    changed = _row(store, type_id, row["ownerId"], given, row["id"])
    _set_rows(store, type_id, row["ownerId"], [changed if r["id"] == row["id"] else r for r in rows])
    return Reply({"productRow": dict(changed)})


def productrow_delete(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.productrow.delete -> ``null``."""
    store = _store(ctx)
    row = _by_id(store, params)
    type_id, rows = _owner_rows(store, row)
    _set_rows(store, type_id, row["ownerId"], [r for r in rows if r["id"] != row["id"]])
    return Reply(None)


_KIND_TYPES = {"int": "integer", "text": "string", "money": "double", "number": "double", "flag": "char"}


def productrow_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """crm.item.productrow.fields -> ``{"fields": {...}}``."""
    fields = {
        camel: describe(
            CrmField(
                camel,
                upper,
                _KIND_TYPES[kind],
                upper,
                read_only=camel not in _WRITABLE and camel != "ownerId",
            ),
            camel in ("ownerId", "ownerType"),
            True,
        )
        for camel, (upper, kind) in _COLUMNS.items()
    }
    return Reply({"fields": fields})


def _legacy_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for camel, (upper, _) in _COLUMNS.items():
        value = row[camel]
        # protocol §10.1: the old methods give ids as strings and the account price as money text
        out[upper] = (
            str(value) if camel in ("id", "ownerId") else f"{value:.2f}" if camel == "priceAccount" else value
        )
    out["ORIGINAL_PRODUCT_NAME"] = row["productName"]
    out["PRODUCT_DESCRIPTION"] = None
    return out


def _legacy(entity: str, type_id: int) -> dict[str, Handler]:
    def owner(store: Store, params: dict[str, Any]) -> int:
        owner_id = to_int(param(params, "id"))
        if owner_id is None or owner_id <= 0:
            raise MethodError("", "ID is not defined or invalid.")
        if owner_id not in store.crm[type_id]:
            raise MethodError("", "Not found.")
        return owner_id

    def rows_set(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        owner_id = owner(store, params)
        entries = as_list(param(params, "rows")) if param(params, "rows") not in (None, "") else []
        if entries is None:
            raise MethodError("", "The parameter 'rows' must be array.")
        rows = []
        for entry in entries:
            mapping = {str(k).upper(): v for k, v in (as_map(entry) or {}).items()}
            given = {_UPPER[k]: v for k, v in mapping.items() if k in _UPPER and _UPPER[k] in _WRITABLE}
            rows.append(_row(store, type_id, owner_id, given, None))
        _set_rows(store, type_id, owner_id, rows)
        return Reply(True)

    def rows_get(ctx: Context, params: dict[str, Any]) -> Reply:
        store = _store(ctx)
        owner_id = owner(store, params)
        return Reply([_legacy_row(row) for row in store.extras.product_rows.get(_key(type_id, owner_id), [])])

    return {f"crm.{entity}.productrows.set": rows_set, f"crm.{entity}.productrows.get": rows_get}


HANDLERS: dict[str, Handler] = {
    "crm.item.productrow.set": productrow_set,
    "crm.item.productrow.list": productrow_list,
    "crm.item.productrow.add": productrow_add,
    "crm.item.productrow.get": productrow_get,
    "crm.item.productrow.update": productrow_update,
    "crm.item.productrow.delete": productrow_delete,
    "crm.item.productrow.fields": productrow_fields,
    **{name: h for entity, type_id in _LEGACY_OWNERS.items() for name, h in _legacy(entity, type_id).items()},
}
