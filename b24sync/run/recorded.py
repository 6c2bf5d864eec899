"""What earlier runs recorded as done, kept small enough for a million commands (``--resume``).

A resumed run of a million commands takes a million results from the report and journal before it.
Nearly all are the created id of an ``*.add`` (``{"item": {"id": 7}}``, ``{"task": {"id": 7}}`` or
the bare ``7`` of the old CRM methods, protocol §9.2 and §9.3): as Python dicts that is about 500
bytes a command. ``Recorded`` keeps such a result as one integer (the id and which wrapper it had)
and gives the same JSON value back when it is read; any other result is kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from pydantic import JsonValue

_SHIFT = 8
"""Low bits of a packed result: which wrapper (0: the bare id); ids of any size fit above them."""
_BARE = 0


class Recorded(MutableMapping[str, JsonValue]):
    """Results by command key; a created id takes an int, not two dicts.

    ``take`` hands a result over and forgets it: the executor takes each once, when its window opens,
    so the store shrinks as the run's own entries grow.
    """

    def __init__(self) -> None:
        self._packed: dict[str, int] = {}
        self._other: dict[str, JsonValue] = {}
        self._wrappers: list[str] = [""]
        self._wrapper_ids: dict[str, int] = {}

    def _pack(self, value: JsonValue) -> int | None:
        if type(value) is int and value >= 0:
            return value << _SHIFT | _BARE
        if type(value) is not dict or len(value) != 1:
            return None
        ((name, inner),) = value.items()
        if type(inner) is not dict or len(inner) != 1:
            return None
        ident = inner.get("id")
        if type(ident) is not int or ident < 0:
            return None
        wrapper = self._wrapper_ids.get(name)
        if wrapper is None:
            if len(self._wrappers) >= 1 << _SHIFT:
                return None
            wrapper = self._wrapper_ids[name] = len(self._wrappers)
            self._wrappers.append(name)
        return ident << _SHIFT | wrapper

    def _unpack(self, packed: int) -> JsonValue:
        ident, wrapper = packed >> _SHIFT, packed & ((1 << _SHIFT) - 1)
        return ident if wrapper == _BARE else {self._wrappers[wrapper]: {"id": ident}}

    def __setitem__(self, key: str, value: JsonValue) -> None:
        packed = self._pack(value)
        if packed is None:
            self._packed.pop(key, None)
            self._other[key] = value
        else:
            self._other.pop(key, None)
            self._packed[key] = packed

    def __getitem__(self, key: str) -> JsonValue:
        packed = self._packed.get(key)
        if packed is not None:
            return self._unpack(packed)
        return self._other[key]

    def __delitem__(self, key: str) -> None:
        if self._packed.pop(key, None) is None:
            del self._other[key]

    def __contains__(self, key: object) -> bool:
        return key in self._packed or key in self._other

    def __iter__(self) -> Iterator[str]:
        yield from self._packed
        yield from self._other

    def __len__(self) -> int:
        return len(self._packed) + len(self._other)

    def take(self, key: str) -> JsonValue:
        """The result of ``key``, forgotten here (``KeyError`` when there is none)."""
        packed = self._packed.pop(key, None)
        if packed is not None:
            return self._unpack(packed)
        return self._other.pop(key)
