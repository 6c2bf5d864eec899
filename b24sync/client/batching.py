"""The three shapes of ``call_batch`` calls (b24jssdk ``callBatch``) and references between commands."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from b24sync.bitrix.references import ENCODED_REFERENCE
from b24sync.errors import UsageError

_BAD_KEY = re.compile(r"[\s\[\]]")


@dataclass(frozen=True)
class Call:
    """One command of a batch."""

    key: str
    method: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class BatchCall:
    """Calls in order, and whether the caller gave a list (results come back as a list)."""

    calls: Sequence[Call]
    as_list: bool


def _call(key: str, value: Any) -> Call:
    if isinstance(value, Mapping):
        method, params = value.get("method"), value.get("params")
        unknown = set(value) - {"method", "params"}
        if unknown:
            raise UsageError(f"command {key!r} has unknown keys {sorted(unknown)}: use method and params")
    elif isinstance(value, (list, tuple)) and 1 <= len(value) <= 2:
        method, params = value[0], value[1] if len(value) == 2 else None
    else:
        raise UsageError(f"command {key!r} must be [method, params] or {{'method': ..., 'params': ...}}")
    if not isinstance(method, str) or not method:
        raise UsageError(f"command {key!r} needs a method name such as 'crm.item.add'")
    if params is not None and not isinstance(params, Mapping):
        raise UsageError(f"parameters of command {key!r} must be a map, not {type(params).__name__}")
    return Call(key, method, params or {})


def normalize_calls(calls: Any) -> BatchCall:
    """Turn any of the three accepted shapes into keyed calls; refuse anything else clearly."""
    if isinstance(calls, Mapping):
        for key in calls:
            if not isinstance(key, str) or not key or _BAD_KEY.search(key):
                raise UsageError(
                    f"command key {key!r} cannot be used in a batch: keys must be non-empty text "
                    "without spaces or brackets (protocol §3.2)"
                )
        batch = BatchCall([_call(key, value) for key, value in calls.items()], as_list=False)
    elif isinstance(calls, Sequence) and not isinstance(calls, (str, bytes)):
        batch = BatchCall([_call(str(index), value) for index, value in enumerate(calls)], as_list=True)
    else:
        raise UsageError("calls must be a list of commands or a dict of named commands")
    if not batch.calls:
        raise UsageError("a batch needs at least one command")
    return batch


def referenced_keys(command: str) -> set[str]:
    """Command keys that an encoded command reads through ``$result[...]`` and its siblings."""
    return {unquote(match) for match in ENCODED_REFERENCE.findall(command)}
