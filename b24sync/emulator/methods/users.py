"""``server.time``, ``profile``, ``user.current``, ``user.get``, ``scope`` (protocol §9.1)."""

from __future__ import annotations

from typing import Any

from ..store import Store
from . import lists
from .base import Context, Handler, MethodError, Reply
from .params import as_list, param, start_of, to_yn

SCOPES = ("crm", "task", "user", "user_basic", "user_brief")
_NOT_FILTERS = frozenset({"sort", "order", "start", "admin_mode", "select", "image_resize", "filter"})
# the stored keys user.get and user.current show (ADMIN only through profile)
_PUBLIC = (
    "ID",
    "ACTIVE",
    "NAME",
    "LAST_NAME",
    "SECOND_NAME",
    "EMAIL",
    "WORK_POSITION",
    "PERSONAL_GENDER",
    "DATE_REGISTER",
    "IS_ONLINE",
    "USER_TYPE",
    "TIME_ZONE",
    "UF_DEPARTMENT",
    "XML_ID",
    "LAST_LOGIN",
    "TIMESTAMP_X",
    "LAST_ACTIVITY_DATE",
    "PERSONAL_BIRTHDAY",
    "PERSONAL_PROFESSION",
    "UF_EMPLOYMENT_DATE",
)
# protocol §9.1: values a user has even when never set; most are empty text
_EMPTY = {"XML_ID": "", "PERSONAL_BIRTHDAY": "", "PERSONAL_PROFESSION": "", "UF_EMPLOYMENT_DATE": ""}


def _store(ctx: Context) -> Store:
    store: Store = ctx.store
    return store


def render(user: dict[str, Any], names: set[str] | None = None) -> dict[str, Any]:
    """A stored user as user.* return it: ``"ID"`` a string, ``ACTIVE`` a JSON bool, departments ints."""
    out = {key: _value_of(user, key) for key in _PUBLIC if names is None or key in names or key == "ID"}
    out["ID"] = str(user["ID"])
    return out


def _value_of(user: dict[str, Any], key: str) -> Any:
    if key in user:
        return user[key]
    if key in ("LAST_LOGIN", "TIMESTAMP_X"):
        # protocol §10.2: TIMESTAMP_X is not ISO; neither is LAST_ACTIVITY_DATE
        return user["DATE_REGISTER"] if key == "LAST_LOGIN" else user["DATE_REGISTER"][:10]
    if key == "LAST_ACTIVITY_DATE":
        return user["DATE_REGISTER"][:10] + " " + user["DATE_REGISTER"][11:19]
    return _EMPTY.get(key, "")


def server_time(ctx: Context, params: dict[str, Any]) -> Reply:
    """server.time -> the portal's current time as ISO 8601."""
    return Reply(_store(ctx).iso(ctx.now()))


def profile(ctx: Context, params: dict[str, Any]) -> Reply:
    """profile -> the caller's ID, ADMIN flag and names; ``{}`` for an inactive user."""
    user = _store(ctx).users.get(ctx.user_id)
    if user is None or not user["ACTIVE"]:
        return Reply({})
    return Reply(
        {
            "ID": str(user["ID"]),
            "ADMIN": user["ADMIN"],
            "NAME": user["NAME"],
            "LAST_NAME": user["LAST_NAME"],
            "PERSONAL_GENDER": user["PERSONAL_GENDER"],
            "TIME_ZONE": user["TIME_ZONE"],
        }
    )


def user_current(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.current -> the calling user."""
    user = _store(ctx).users.get(ctx.user_id)
    if user is None:
        raise MethodError("NO_AUTH_FOUND", "Wrong authorization data", status=401)
    return Reply(render(user))


def _resolve(name: str) -> tuple[str, lists.Coerce] | None:
    upper = name.upper()
    if upper == "ACTIVE":
        return upper, lambda raw: to_yn(raw) == "Y"
    if upper in _PUBLIC or upper in ("NAME_SEARCH", "ADMIN"):
        return upper, lambda raw: raw
    return None


def filter_value(user: dict[str, Any], name: str) -> Any:
    """A user's value of a filter or sort field (user.get, user.search)."""
    return _value(user, name)


def resolve_filter(name: str) -> tuple[str, lists.Coerce] | None:
    """The stored name and coercion of a user.get filter field."""
    return _resolve(name)


def _value(user: dict[str, Any], name: str) -> Any:
    if name == "NAME_SEARCH":
        return f"{user['NAME']} {user['LAST_NAME']} {user['LAST_NAME']} {user['NAME']}"
    return user.get(name)


def user_get(ctx: Context, params: dict[str, Any]) -> Reply:
    """user.get -> a plain array of users with total/next; ``start`` rounds down to a page."""
    store = _store(ctx)
    raw_filter = param(params, "filter")
    if raw_filter is None:
        # user.get also reads filter fields given as plain parameters (user.get?ID=1)
        raw_filter = {key: value for key, value in params.items() if key.lower() not in _NOT_FILTERS}
    where = lists.parse_filter(raw_filter, _resolve, strict=False)
    for term in where.terms:
        if isinstance(term, lists.Condition) and term.field == "NAME_SEARCH" and term.op == "=":
            # NAME_SEARCH is a search, not an equality
            where = lists.Group(
                "AND",
                tuple(lists.Condition("NAME_SEARCH", "%", t.value) if t is term else t for t in where.terms),
            )
    sort = str(param(params, "sort") or "ID").upper()
    descending = str(param(params, "order") or "ASC").upper() == "DESC"
    order = [(sort if _resolve(sort) else "ID", descending)]
    selected = as_list(param(params, "select"))
    names = None if not selected or "*" in selected else {str(name).upper() for name in selected}
    if names is not None and "UF_*" in names:
        names.update(key for key in _PUBLIC if key.startswith("UF_"))
    page = lists.select_page(store.users, where, order, start_of(params), "legacy", _value, "ID")
    return Reply([render(user, names) for user in page.rows], total=page.total, next=page.next)


def scope(ctx: Context, params: dict[str, Any]) -> Reply:
    """scope -> the scopes this emulated webhook has."""
    allowed = ctx.extra.get("scopes")
    return Reply([name for name in SCOPES if allowed is None or name in allowed])


HANDLERS: dict[str, Handler] = {
    "server.time": server_time,
    "profile": profile,
    "user.current": user_current,
    "user.get": user_get,
    "scope": scope,
}
