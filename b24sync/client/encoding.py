"""The wire encoding of Bitrix24 commands, batch payloads and batch response maps. Pure.

Each command of a batch is one string ``method?query`` that the portal splits with PHP ``parse_url``
and decodes with PHP ``parse_str`` (protocol §2.2). ``encode_query`` writes the PHP
``http_build_query`` convention (protocol §2.3): nested maps as ``a[b]``, lists with explicit
indices ``a[0]``, brackets of the key path as ``%5B``/``%5D``, and every byte outside
``A-Za-z0-9-._~`` percent-encoded (a space as ``%20``), so that ``#``, ``&``, ``+``, ``%`` and ``=`` in
keys or values arrive intact. ``$result[...]`` markers are text like any other: the portal decodes
the query before it substitutes references (protocol §4.2).

Decisions of b24sync, where ``http_build_query`` differs:

- ``True``/``False`` become ``Y``/``N``, the convention of Bitrix24 fields (protocol §10.4).
- ``None``, ``[]`` and ``{}`` become ``key=``: an empty value, which is how Bitrix24 clears a field.
  (PHP drops such keys, leaving no way to clear a field inside a batch.)
- ``int``, ``float`` and ``Decimal`` become plain decimal text, never exponent notation
  (``1e-07`` would reach a money field as a string PHP does not read as a number).

Whatever PHP cannot decode back is refused with ``EncodingError`` instead of being sent and
silently changed by the portal: top-level keys that are empty or hold ``.``, a space or ``[``
(``parse_str`` rewrites them to ``_``), nested keys that are empty, one blank character (read as
``[]``) or hold ``]``, keys holding NUL, nesting deeper than PHP's 64 levels, NaN and
infinities, and commands of more than ``MAX_INPUT_VARS`` values (PHP ``max_input_vars``;
protocol §2.2, U5: the rest would be dropped).
The law, tested against the real ``php`` binary: ``parse_str(encode_query(p))`` gives back ``p``
with every leaf as a string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from b24sync.bitrix.limits import MAX_BATCH, MAX_INPUT_VARS, MAX_NESTING
from b24sync.errors import ProtocolError, UsageError

RESPONSE_MAPS = ("result", "result_error", "result_total", "result_next", "result_time")

_OPEN = "%5B"
_CLOSE = "%5D"
_BAD_TOP_KEY = frozenset(". [\0")
_BAD_NESTED_KEY = frozenset("]\0")
# PHP reads a bracket holding one whitespace character as "[]" (append), found with php 8.2.
_BLANK_NESTED_KEYS = frozenset(" \t\n\r\v\f")


class EncodingError(UsageError):
    """Parameters that the portal could not decode back as given."""


_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
# each byte as urllib.parse.quote(safe="") writes it: itself when unreserved, else %XX
_BYTE_TEXT = tuple(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in range(256))


def _quote(text: str) -> str:
    """``urllib.parse.quote(text, safe="")``, without its per-call overhead (a hot path of planning)."""
    try:
        data = text.encode()
    except UnicodeEncodeError as error:
        raise EncodingError(f"text {text[:40]!r} is not valid Unicode ({error.reason})") from None
    if not data.rstrip(_UNRESERVED):
        return text
    return data.decode("latin-1").translate(_BYTE_TEXT)  # one character per byte, each replaced


def _decimal_text(number: float | Decimal) -> str:
    if isinstance(number, float):
        if not math.isfinite(number):
            raise EncodingError(f"{number!r} cannot be sent to Bitrix24: use a finite number")
        number = Decimal(repr(number))
    elif not number.is_finite():
        raise EncodingError(f"{number!r} cannot be sent to Bitrix24: use a finite number")
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@lru_cache(maxsize=4096)
def _nested_key(name: str) -> str:
    # Key segments repeat across commands (fields, filter names): quote each once.
    if not name or name in _BLANK_NESTED_KEYS or not _BAD_NESTED_KEY.isdisjoint(name):
        raise EncodingError(
            f"key {name!r} cannot be decoded by the portal: nested keys must be non-empty, "
            "not a single blank, and hold no ']' or NUL"
        )
    return _OPEN + _quote(name) + _CLOSE


@lru_cache(maxsize=1024)
def _top_key(name: str) -> str:
    if not name or not _BAD_TOP_KEY.isdisjoint(name):
        raise EncodingError(
            f"parameter name {name!r} cannot be decoded by the portal: top-level names must be "
            "non-empty and hold no '.', space, '[' or NUL"
        )
    return _quote(name)


def _key_text(key: object, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or not isinstance(key, int):
        raise EncodingError(f"key {key!r} under {path!r} must be text or an integer")
    return str(key)


def _walk(prefix: str, value: Any, depth: int, pairs: list[str]) -> None:
    if isinstance(value, str):
        pairs.append(prefix + "=" + _quote(value))
    elif isinstance(value, bool):
        pairs.append(prefix + ("=Y" if value else "=N"))
    elif isinstance(value, int):
        pairs.append(f"{prefix}={value}")
    elif isinstance(value, (Mapping, list, tuple)):
        if not value:
            pairs.append(prefix + "=")
            return
        if depth >= MAX_NESTING:
            raise EncodingError(f"parameters nest deeper than {MAX_NESTING} levels at {prefix!r}")
        if isinstance(value, Mapping):
            for key, item in value.items():
                _walk(prefix + _nested_key(_key_text(key, prefix)), item, depth + 1, pairs)
        else:
            for index, item in enumerate(value):
                _walk(f"{prefix}{_OPEN}{index}{_CLOSE}", item, depth + 1, pairs)
    elif value is None:
        pairs.append(prefix + "=")
    elif isinstance(value, (float, Decimal)):
        pairs.append(prefix + "=" + _decimal_text(value))
    else:
        raise EncodingError(
            f"value of type {type(value).__name__} at {prefix!r} cannot be sent to Bitrix24: "
            "use text, numbers, booleans, None, lists or maps"
        )


def encode_query(params: Mapping[str, Any], max_values: int = MAX_INPUT_VARS) -> str:
    """Encode parameters as the query string ``parse_str`` decodes back (see the module docstring)."""
    if not isinstance(params, Mapping):
        raise EncodingError(f"parameters must be a map of names to values, not {type(params).__name__}")
    pairs: list[str] = []
    for key, value in params.items():
        _walk(_top_key(_key_text(key, "")), value, 1, pairs)
    if len(pairs) > max_values:
        raise EncodingError(
            f"a command holds {len(pairs)} values; the portal reads at most {max_values} "
            "(PHP max_input_vars): split it into several commands"
        )
    return "&".join(pairs)


def encode_command(method: str, params: Mapping[str, Any] | None = None) -> str:
    """One batch command: ``method?query`` (protocol §2.1)."""
    if not method or not all(c.isalnum() or c in "._" for c in method):
        raise EncodingError(f"method name {method!r} is not a Bitrix24 method name such as 'crm.item.add'")
    return f"{method}?{encode_query(params or {})}"


class Hole:
    """A place in a parameter tree given to ``compile_skeleton`` whose value each command fills in."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


_Piece = tuple[str, int, str, int]
"""``(text, -1, "", 0)`` for a pair of the fixed part; ``(prefix + "=", hole, prefix, depth)`` for a hole."""


@dataclass(frozen=True, slots=True)
class Skeleton:
    """One command encoded once, with holes: ``fill`` encodes only the values that change.

    A step sends the same parameter names in every command; only the values of its templates differ.
    ``fill(values)`` equals ``encode_command(method, tree)`` with each ``Hole(i)`` replaced by
    ``values[i]``, errors included (``tests/client/test_encoding.py`` checks the two agree).
    """

    head: str
    pieces: tuple[_Piece, ...]
    max_values: int

    def fill(self, values: Sequence[Any]) -> str:
        """The command ``method?query`` with ``values`` in the holes; errors as ``encode_command``."""
        pairs: list[str] = []
        append = pairs.append
        for text, index, prefix, depth in self.pieces:
            if index < 0:
                append(text)
                continue
            value = values[index]
            if value.__class__ is str:
                try:
                    data = value.encode()
                except UnicodeEncodeError:
                    data = b""
                    _quote(value)  # raises the EncodingError
                if data.rstrip(_UNRESERVED):
                    append(text + data.decode("latin-1").translate(_BYTE_TEXT))
                else:
                    append(text + value)
            else:
                _walk(prefix, value, depth, pairs)
        if len(pairs) > self.max_values:
            raise EncodingError(
                f"a command holds {len(pairs)} values; the portal reads at most {self.max_values} "
                "(PHP max_input_vars): split it into several commands"
            )
        return self.head + "&".join(pairs)


def compile_skeleton(method: str, tree: Mapping[str, Any], max_values: int = MAX_INPUT_VARS) -> Skeleton:
    """The skeleton of ``encode_command(method, tree)``; ``Hole`` values are filled per command.

    Raises ``EncodingError`` when the fixed part of the tree cannot be sent (the caller then encodes
    each command whole, which reports the problem where it is).
    """
    head = encode_command(method, {})
    if not isinstance(tree, Mapping):
        raise EncodingError(f"parameters must be a map of names to values, not {type(tree).__name__}")
    pieces: list[_Piece] = []
    for key, value in tree.items():
        _shape(_top_key(_key_text(key, "")), value, 1, pieces)
    return Skeleton(head, tuple(pieces), max_values)


def _shape(prefix: str, value: Any, depth: int, pieces: list[_Piece]) -> None:
    if isinstance(value, Hole):
        pieces.append((prefix + "=", value.index, prefix, depth))
    elif isinstance(value, (Mapping, list, tuple)) and value:
        if depth >= MAX_NESTING:
            raise EncodingError(f"parameters nest deeper than {MAX_NESTING} levels at {prefix!r}")
        if isinstance(value, Mapping):
            for key, item in value.items():
                _shape(prefix + _nested_key(_key_text(key, prefix)), item, depth + 1, pieces)
        else:
            for index, item in enumerate(value):
                _shape(f"{prefix}{_OPEN}{index}{_CLOSE}", item, depth + 1, pieces)
    else:
        pairs: list[str] = []
        _walk(prefix, value, depth, pairs)
        pieces.extend((pair, -1, "", 0) for pair in pairs)


def batch_payload(commands: Mapping[str, str], halt: bool) -> dict[str, Any]:
    """The JSON body of a ``batch`` call: ``halt`` as 0/1 (protocol §3.1, U11) and named commands."""
    if not commands:
        raise EncodingError("a batch needs at least one command")
    if len(commands) > MAX_BATCH:
        raise EncodingError(f"a batch holds at most {MAX_BATCH} commands, not {len(commands)}")
    return {"halt": 1 if halt else 0, "cmd": dict(commands)}


def response_map(value: Any) -> dict[str, Any]:
    """A batch response map as a dict keyed by command key.

    PHP serialises an empty map as ``[]`` and a map keyed ``0..n-1`` as a list (protocol §5.3).
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return {str(index): item for index, item in enumerate(value)}
    raise EncodingError(f"a batch response map must be a list or an object, not {type(value).__name__}")


def response_maps(result: object) -> dict[str, dict[str, Any]]:
    """The five maps of a batch ``result`` (protocol §5.2), each as a dict.

    The answer comes from outside: a ``result`` that is not a map of maps raises ``ProtocolError``
    (never a ``TypeError`` deep in the executor), and the caller decides what that means for writes.
    """
    if result is None or (isinstance(result, list) and not result):
        result = {}  # PHP writes an empty map as []
    if not isinstance(result, Mapping):
        raise ProtocolError(f"a batch answer's result must be an object of maps, not {_kind(result)}")
    maps: dict[str, dict[str, Any]] = {}
    for name in RESPONSE_MAPS:
        try:
            maps[name] = response_map(result.get(name))
        except EncodingError:
            raise ProtocolError(
                f"{name} of a batch answer must be an object or a list, not {_kind(result.get(name))}"
            ) from None
    return maps


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def compact_json(value: Any) -> str:
    """``value`` as ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` writes it, up to
    the spelling of some floats (``1e16`` for ``1e+16``, the same number read back).

    pydantic's writer takes a quarter of the time of ``json``'s; what it cannot write as UTF-8 (a
    lone surrogate) goes to ``json``, which writes it, or raises, as it always did.
    """
    try:
        return to_json(value).decode("utf-8")
    except PydanticSerializationError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
