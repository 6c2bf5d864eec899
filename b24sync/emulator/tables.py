"""Tables of stored records with indexes, so a lookup costs the same in a table of 10 or 1,000,000.

A ``Table`` maps ids to records, keeps its ids in ascending order (a list, so an id range is found
by bisection without copying), and builds an equality index on a field the first time a lookup asks
for one. Indexes stay right however records change, because a ``Record`` is a dict that tells its
table whenever one of its top-level fields is set or removed; the table re-reads such records before
the next lookup. What an index cannot follow it never hides:

- a record stored as a plain dict (code that does not build ``Record``) is always a candidate;
- a value the key function cannot key (a list or a dict, which can change in place) is always a
  candidate;
- an entry left behind by a change or a delete stays until the index is rebuilt.

So a lookup answers a *superset* of the matching ids, and the caller tests every candidate with the
real predicate: an index only ever makes a list faster, never different. Not thread-safe by itself:
the emulator's core serialises every call under one lock.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

KeyOf = Callable[[Any], "Hashable | None"]
"""A field value -> its index key; ``None`` when the value cannot be keyed (it is always a candidate)."""

# an index holding more than this many entries per live record (stale ones included) is rebuilt
_REBUILD_RATIO = 2
_REBUILD_SLACK = 1024


class Record(dict[str, Any]):
    """A stored record: a dict that tells the table holding it when a top-level field changes.

    Copies (``copy.copy``, ``copy.deepcopy``, pickling) are plain dicts, detached from any table.
    """

    __slots__ = ("_owner",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner: tuple[Table, int] | None = None

    def _changed(self) -> None:
        owner = self._owner
        if owner is not None:
            owner[0]._dirty.add(owner[1])

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def __ior__(self, other: Any) -> Record:  # type: ignore[override,misc]
        super().update(other)
        self._changed()
        return self

    def setdefault(self, key: str, default: Any = None) -> Any:
        value = super().setdefault(key, default)
        self._changed()
        return value

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._changed()
        return value

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class _Index:
    """value key -> the id (one) or ids (a set) that had it, plus the ids that cannot be keyed."""

    __slots__ = ("entries", "field", "key_of", "keys", "loose")

    def __init__(self, field: str, key_of: KeyOf) -> None:
        self.field = field
        self.key_of = key_of
        # a lone id is stored bare: most keys of a million-row table (originId) have one record
        self.keys: dict[Hashable, int | set[int]] = {}
        self.loose: set[int] = set()
        self.entries = 0

    def add(self, record_id: int, record: Mapping[str, Any]) -> None:
        key = self.key_of(record.get(self.field))
        if key is None:
            if record_id not in self.loose:
                self.loose.add(record_id)
                self.entries += 1
            return
        held = self.keys.get(key)
        if held is None:
            self.keys[key] = record_id
        elif isinstance(held, set):
            if record_id in held:
                return
            held.add(record_id)
        elif held == record_id:
            return
        else:
            self.keys[key] = {held, record_id}
        self.entries += 1

    def find(self, keys: Iterable[Hashable]) -> list[int | set[int]]:
        found: list[int | set[int]] = []
        for key in keys:
            held = self.keys.get(key)
            if held is not None:
                found.append(held)
        if self.loose:
            found.append(self.loose)
        return found


class Candidates:
    """Ids a lookup may match (a superset of the matches) and how many there are at most."""

    __slots__ = ("parts", "size")

    def __init__(self, parts: list[int | set[int]]) -> None:
        self.parts = parts
        self.size = sum(1 if isinstance(part, int) else len(part) for part in parts)

    def ascending(self) -> list[int]:
        """The candidate ids, each once, in ascending order."""
        ids: set[int] = set()
        for part in self.parts:
            if isinstance(part, int):
                ids.add(part)
            else:
                ids.update(part)
        return sorted(ids)


class Table(dict[int, dict[str, Any]]):
    """Records by id, ids kept ascending, with equality indexes built on first use (see module doc)."""

    __slots__ = ("_dirty", "_ids", "_indexes", "_loose")

    def __init__(self, records: Mapping[int, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self._ids: list[int] = []
        self._dirty: set[int] = set()
        self._loose: set[int] = set()
        self._indexes: dict[tuple[str, KeyOf], _Index] = {}
        for record_id, record in (records or {}).items():
            self[record_id] = record

    # --- the dict surface, kept in step with the ids and indexes ---

    def __setitem__(self, record_id: int, record: dict[str, Any]) -> None:
        if record_id in self:
            self._detach(record_id)
        elif not self._ids or record_id > self._ids[-1]:
            self._ids.append(record_id)
        else:
            bisect.insort(self._ids, record_id)
        super().__setitem__(record_id, record)
        if isinstance(record, Record):
            record._owner = (self, record_id)
            self._dirty.add(record_id)
        else:
            self._loose.add(record_id)

    def __delitem__(self, record_id: int) -> None:
        self._detach(record_id)
        super().__delitem__(record_id)
        position = bisect.bisect_left(self._ids, record_id)
        del self._ids[position]

    def _detach(self, record_id: int) -> None:
        record = super().get(record_id)
        if isinstance(record, Record) and record._owner == (self, record_id):
            record._owner = None
        self._loose.discard(record_id)
        self._dirty.discard(record_id)

    def pop(self, record_id: int, *default: Any) -> Any:
        if record_id not in self:
            if default:
                return default[0]
            raise KeyError(record_id)
        record = super().__getitem__(record_id)
        del self[record_id]
        return record

    def popitem(self) -> tuple[int, dict[str, Any]]:
        if not self:
            raise KeyError("popitem(): table is empty")
        record_id = next(reversed(self.keys()))
        return record_id, self.pop(record_id)

    def setdefault(self, record_id: int, default: Any = None) -> Any:
        if record_id not in self:
            self[record_id] = default
        return super().__getitem__(record_id)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for record_id, record in dict(*args, **kwargs).items():
            self[record_id] = record

    def __ior__(self, other: Any) -> Table:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        for record_id in list(self):
            self._detach(record_id)
        super().clear()
        self._ids.clear()
        self._indexes.clear()

    def __copy__(self) -> dict[int, dict[str, Any]]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[int, dict[str, Any]]:
        return {record_id: copy.deepcopy(record, memo) for record_id, record in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))

    # --- ordered ids and lookups ---

    def ordered_ids(self) -> list[int]:
        """Every id in ascending order: the table's own list, to read and never to change."""
        return self._ids

    def lookup(self, field: str, key_of: KeyOf, keys: Iterable[Hashable]) -> Candidates:
        """Ids whose ``field`` may have one of ``keys`` (by ``key_of``): a superset to test one by one."""
        index = self._index(field, key_of)
        parts = index.find(keys)
        if self._loose:
            parts.append(self._loose)
        return Candidates(parts)

    def _index(self, field: str, key_of: KeyOf) -> _Index:
        self._refresh()
        index = self._indexes.get((field, key_of))
        if index is None or index.entries > _REBUILD_RATIO * len(self) + _REBUILD_SLACK:
            index = _Index(field, key_of)
            for record_id, record in self.items():
                if isinstance(record, Record):
                    index.add(record_id, record)
            self._indexes[(field, key_of)] = index
        return index

    def _refresh(self) -> None:
        """Re-read the records changed since the last lookup into every index."""
        if not self._dirty:
            return
        if self._indexes:
            for record_id in self._dirty:
                record = super().get(record_id)
                if record is None:
                    continue
                for index in self._indexes.values():
                    index.add(record_id, record)
        self._dirty.clear()
