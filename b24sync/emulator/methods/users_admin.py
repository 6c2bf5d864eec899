"""Managing users: ``user.fields``, ``user.add``, ``user.update``, ``user.search``, ``user.admin``,
``user.access`` and ``user.userfield.*`` (protocol §9.1)."""

from __future__ import annotations

from typing import Any

from .. import dates
from ..store import Store
from . import lists, users
from .base import Context, Handler, MethodError, Reply
from .params import as_list, as_map, param, start_of, to_int, to_yn

_FIELD_TITLES = {
    "ID": "ID",
    "XML_ID": "External ID",
    "ACTIVE": "Active",
    "NAME": "First name",
    "LAST_NAME": "Last name",
    "SECOND_NAME": "Second name",
    "EMAIL": "E-mail",
    "LAST_LOGIN": "Last login",
    "DATE_REGISTER": "Registered on",
    "TIME_ZONE": "Time zone",
    "IS_ONLINE": "Online",
    "TIMESTAMP_X": "Modified on",
    "LAST_ACTIVITY_DATE": "Last activity",
    "PERSONAL_GENDER": "Gender",
    "PERSONAL_PROFESSION": "Profession",
    "PERSONAL_BIRTHDAY": "Date of birth",
    "WORK_POSITION": "Position",
    "UF_EMPLOYMENT_DATE": "Employment date",
    "UF_DEPARTMENT": "Departments",
    "USER_TYPE": "User type",
}
_WRITABLE = (
    "NAME",
    "LAST_NAME",
    "SECOND_NAME",
    "EMAIL",
    "XML_ID",
    "WORK_POSITION",
    "PERSONAL_GENDER",
    "PERSONAL_PROFESSION",
    "PERSONAL_BIRTHDAY",
    "UF_EMPLOYMENT_DATE",
    "TIME_ZONE",
)


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def _admin(store: Store, user_id: int) -> None:
    user = store.users.get(user_id)
    if user is None or not user["ADMIN"]:
        raise MethodError("ACCESS_DENIED", "Access denied")


def user_fields(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.fields -> ``{FIELD: title}``."""
    return Reply(dict(_FIELD_TITLES))


def _values(store: Store, fields: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in fields.items():
        name = str(key).upper()
        if name in _WRITABLE:
            text = "" if raw is None else str(raw)
            if name in ("PERSONAL_BIRTHDAY", "UF_EMPLOYMENT_DATE") and text:
                day = dates.parse_date(text, store.zone)
                if day is None:
                    raise MethodError("ERROR_CORE", f"Wrong date in {name}")
                text = dates.format_date(day, store.zone)
            values[name] = text
        elif name == "ACTIVE":
            values["ACTIVE"] = to_yn(raw) == "Y"
        elif name == "UF_DEPARTMENT":
            items = as_list(raw) if not isinstance(raw, (str, int)) else [raw]
            values["UF_DEPARTMENT"] = [n for n in (to_int(item) for item in items or []) if n is not None]
    return values


def user_add(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.add -> the new user's id (an int); EMAIL is required and unique."""
    store = _store(ctx)
    _admin(store, ctx.user_id)
    fields = {str(k).upper(): v for k, v in (as_map(param(params, "fields")) or params).items()}
    email = str(fields.get("EMAIL") or "").strip()
    if not email:
        raise MethodError("ERROR_CORE", "E-mail is required")
    if any(user["EMAIL"].lower() == email.lower() for user in store.users.values()):
        raise MethodError("ERROR_CORE", "A user with this e-mail already exists")
    departments = _values(store, {"UF_DEPARTMENT": fields.get("UF_DEPARTMENT", [1])})["UF_DEPARTMENT"]
    user_id = store.add_user(
        str(fields.get("NAME") or ""),
        str(fields.get("LAST_NAME") or ""),
        email,
        department=(departments or [1])[0],
    )
    store.users[user_id].update(_values(store, fields))
    return Reply(user_id)


def user_update(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.update -> ``true``."""
    store = _store(ctx)
    _admin(store, ctx.user_id)
    fields = {str(k).upper(): v for k, v in (as_map(param(params, "fields")) or params).items()}
    user = store.users.get(to_int(fields.get("ID")) or to_int(param(params, "id")) or 0)
    if user is None:
        raise MethodError("ERROR_CORE", "User not found")
    user.update(_values(store, fields))
    user["TIMESTAMP_X"] = store.iso(ctx.now())[:10]
    return Reply(True)


def _search_text(user: dict[str, Any]) -> str:
    return " ".join(
        str(user.get(key) or "") for key in ("NAME", "LAST_NAME", "EMAIL", "WORK_POSITION")
    ).lower()


def user_search(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.search -> users whose name, e-mail or position holds every word of ``FIND``."""
    store = _store(ctx)
    raw = dict(as_map(param(params, "filter")) or {})
    words = str(raw.pop("FIND", None) or raw.pop("find", None) or "").lower().split()
    matching = {uid: u for uid, u in store.users.items() if all(w in _search_text(u) for w in words)}
    # the other filter keys, sort and order work as in user.get (keyset walks use >ID / <ID)
    where = lists.parse_filter(raw, users.resolve_filter, strict=False)
    sort = str(param(params, "sort") or "ID").upper()
    descending = str(param(params, "order") or "ASC").upper() == "DESC"
    order = [(sort if users.resolve_filter(sort) else "ID", descending)]
    page = lists.select_page(matching, where, order, start_of(params), "legacy", users.filter_value, "ID")
    return Reply([users.render(user) for user in page.rows], total=page.total, next=page.next)


def user_admin(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.admin -> whether the caller is an administrator."""
    user = _store(ctx).users.get(ctx.user_id)
    return Reply(bool(user and user["ADMIN"]))


def user_access(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.access -> whether the caller holds one of the access codes (``AU`` is every user)."""
    codes = as_list(param(params, "ACCESS"))
    codes = codes if codes is not None else [param(params, "ACCESS")]
    user = _store(ctx).users.get(ctx.user_id)
    if user is None:
        return Reply(False)
    held = {"AU", f"U{user['ID']}", *(f"D{d}" for d in user["UF_DEPARTMENT"])}
    if user["ADMIN"]:
        held.add("G1")
    held.add("G2")  # every employee
    return Reply(any(str(code) in held for code in codes))


HANDLERS: dict[str, Handler] = {
    "user.fields": user_fields,
    "user.add": user_add,
    "user.update": user_update,
    "user.search": user_search,
    "user.admin": user_admin,
    "user.access": user_access,
}
