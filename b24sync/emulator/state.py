"""The emulator's counters and the saving and loading of its store (atomic JSON file)."""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from b24sync.emulator.methods.base import Handler

STATE_VERSION = 1


class EmulatorError(Exception):
    """The emulator cannot start or save: a bad option, an unreadable state file, missing methods."""


class StoreClass(Protocol):
    """What the emulator needs of a store type: an empty portal and one restored from JSON."""

    def __call__(self) -> Any: ...

    def from_json(self, data: dict[str, Any]) -> Any: ...


@dataclass
class Counters:
    """What the emulator saw: HTTP requests, method calls, statuses and calls per method."""

    requests: int = 0
    commands: int = 0
    dropped: int = 0
    faults: int = 0
    server_seconds: float = 0.0
    by_status: Counter[str] = field(default_factory=Counter)
    by_method: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    """Requests and commands refused by a limit, by error code (inside batches too)."""

    def as_json(self) -> dict[str, Any]:
        """The counters as plain JSON values."""
        return {
            "requests": self.requests,
            "commands": self.commands,
            "by_status": dict(self.by_status),
            "by_method": dict(self.by_method),
            "refused": dict(self.refused),
            "dropped": self.dropped,
            "faults": self.faults,
            "server_seconds": round(self.server_seconds, 6),
        }


def default_methods() -> dict[str, Handler]:
    """The real method handlers, imported only when no others were given."""
    try:
        module = importlib.import_module("b24sync.emulator.methods")
        registry: Callable[[], Mapping[str, Handler]] = module.registry
    except (ImportError, AttributeError) as error:
        raise EmulatorError(
            f"the emulator's method handlers (b24sync.emulator.methods.registry) are not available: {error}"
        ) from error
    return dict(registry())


def default_store_class() -> StoreClass:
    """The real store type, imported only when no other was given."""
    try:
        module = importlib.import_module("b24sync.emulator.store")
        store_class: StoreClass = module.Store
    except (ImportError, AttributeError) as error:
        raise EmulatorError(
            f"the emulator's store (b24sync.emulator.store.Store) is not available: {error}"
        ) from error
    return store_class


def load_store(path: Path, store_class: StoreClass) -> Any:
    """A store restored from a state file, or an empty one when the file does not exist yet."""
    if not path.exists():
        return store_class()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise EmulatorError(f"cannot read state file {path}: {error}") from error
    if (
        not isinstance(data, dict)
        or data.get("version") != STATE_VERSION
        or not isinstance(data.get("store"), dict)
    ):
        raise EmulatorError(
            f"state file {path} is not an emulator state (version {STATE_VERSION}); "
            "delete it or point --state elsewhere"
        )
    try:
        return store_class.from_json(data["store"])
    except (KeyError, TypeError, ValueError) as error:
        raise EmulatorError(f"state file {path} holds a store that cannot be loaded: {error}") from error


def state_json(store: Any) -> str:
    """The JSON text of a state file holding ``store``."""
    return json.dumps({"version": STATE_VERSION, "store": store.to_json()}, ensure_ascii=False)


def save_store(path: Path, store: Any) -> None:
    """Write the store atomically: a temporary file in the same folder, then ``os.replace``."""
    payload = state_json(store)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise EmulatorError(f"cannot save state file {path}: {error}") from error
