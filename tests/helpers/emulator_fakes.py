"""Small fake method handlers and a fake store, so the emulator's core is tested on its own."""

from __future__ import annotations

from typing import Any

from b24sync.emulator import Emulator
from b24sync.emulator.methods.base import Context, Handler, MethodError, Reply

TOKEN = "emulator-token"


class FakeStore:
    """A portal holding numbered records."""

    def __init__(self, records: dict[str, Any] | None = None) -> None:
        self.records: dict[str, Any] = dict(records or {})

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FakeStore:
        return cls(data["records"])

    def stats(self) -> dict[str, int]:
        return {"records": len(self.records)}


def _add(context: Context, params: dict[str, Any]) -> Reply:
    store: FakeStore = context.store
    new_id = len(store.records) + 1
    store.records[str(new_id)] = params.get("fields", {})
    return Reply(new_id)


def _get(context: Context, params: dict[str, Any]) -> Reply:
    found = context.store.records.get(str(params.get("id")))
    if found is None:
        raise MethodError("NOT_FOUND", "Not found", 400, {"argument": "id"})
    return Reply({"ID": str(params.get("id")), **found})


def _list(context: Context, params: dict[str, Any]) -> Reply:
    rows = [{"ID": key} for key in context.store.records]
    try:
        start = int(str(params.get("start", 0)))
    except ValueError:
        start = 0
    page = rows[start : start + 50]
    more = start + 50 < len(rows)
    return Reply(page, total=len(rows), next=start + 50 if more else None)


def _boom(context: Context, params: dict[str, Any]) -> Reply:
    raise RuntimeError("a bug in a handler")


METHODS: dict[str, Handler] = {
    "fake.add": _add,
    "fake.get": _get,
    "fake.list": _list,
    "fake.echo": lambda context, params: Reply(params),
    "fake.null": lambda context, params: Reply(None),
    "fake.boom": _boom,
    "server.time": lambda context, params: Reply("2026-01-01T00:00:00+00:00"),
}


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def emulator(**options: Any) -> Emulator:
    """An emulator on the fake methods and store, limits off unless asked."""
    options.setdefault("methods", METHODS)
    options.setdefault("store_factory", FakeStore)
    options.setdefault("operating_limit", None)
    options.setdefault("wall_clock", FakeClock())
    return Emulator(**options)
