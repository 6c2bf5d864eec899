"""PHP's view of a request: ``parse_url``, ``parse_str``, boolean casting and array-to-JSON shape.

Written from the observable rules of PHP 8.2 (protocol §2.2, §3.1, §5.3), checked against the real
``php`` binary in the tests. Strings are handled as UTF-8 bytes, as PHP does; bytes that are not valid
UTF-8 survive as surrogate escapes so that nothing is lost or raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
MAX_INPUT_NESTING_LEVEL = 64
"""PHP's default ``max_input_nesting_level``: a deeper variable is dropped as a whole."""

_HEX = b"0123456789abcdefABCDEF"
_SCHEME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_DIGITS = frozenset(b"0123456789")
_INT_KEY = re.compile(rb"(?:0|-?[1-9][0-9]*)\Z")
_NAME_MANGLE = bytes.maketrans(b" .", b"__")
_TAIL_MANGLE = bytes.maketrans(b" .[", b"___")
_CONTROL = bytes(range(32)) + b"\x7f"
_CONTROL_TO_UNDERSCORE = bytes.maketrans(_CONTROL, b"_" * len(_CONTROL))


def to_bytes(text: str) -> bytes:
    """Text as the bytes PHP would see (UTF-8, surrogate escapes kept)."""
    return text.encode("utf-8", "surrogateescape")


def to_text(raw: bytes) -> str:
    """Bytes back to text without ever failing on invalid UTF-8."""
    return raw.decode("utf-8", "surrogateescape")


def url_decode(raw: bytes) -> bytes:
    """PHP ``urldecode``: ``+`` is a space, ``%XX`` a byte, a stray ``%`` stays literal."""
    if b"%" not in raw:
        return raw.replace(b"+", b" ")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x2B:
            out.append(0x20)
        elif byte == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 2
        else:
            out.append(byte)
        i += 1
    return bytes(out)


class _PhpArray(dict[Any, Any]):
    """A PHP array while parsing: int or bytes keys, plus PHP's next free integer key."""

    def __init__(self) -> None:
        super().__init__()
        self.next_free: int | None = None

    def put(self, key: bytes | None, value: Any) -> None:
        if key is None:
            slot = 0 if self.next_free is None else self.next_free
            if slot == LONG_MAX:
                return  # PHP refuses to append past the largest key
            self._store(slot, value)
            return
        self._store(_normal_key(key), value)

    def child(self, key: bytes | None) -> _PhpArray:
        if key is None:
            fresh = _PhpArray()
            self.put(None, fresh)
            return fresh
        normal = _normal_key(key)
        found = self.get(normal)
        if isinstance(found, _PhpArray):
            return found
        fresh = _PhpArray()
        self._store(normal, fresh)
        return fresh

    def _store(self, key: int | bytes, value: Any) -> None:
        self[key] = value
        if isinstance(key, int) and (self.next_free is None or key >= self.next_free):
            self.next_free = key + 1 if key < LONG_MAX else LONG_MAX


def _normal_key(key: bytes) -> int | bytes:
    # PHP turns canonical decimal integer strings into integer keys ("5" yes; "05", "-0" no)
    if _INT_KEY.match(key):
        number = int(key)
        if LONG_MIN <= number <= LONG_MAX:
            return number
    return key


_ONE_BLANK = frozenset(bytes([c]) for c in b" \t\n\r\v\f")


def _register(root: _PhpArray, name: bytes, value: bytes) -> None:
    # variable names are C strings in PHP: everything after a NUL byte is ignored
    name = name.split(b"\0", 1)[0].lstrip(b" ")
    bracket = name.find(b"[")
    if bracket < 0:
        base = name.translate(_NAME_MANGLE)
        if base:
            root.put(base, value)
        return
    base = name[:bracket].translate(_NAME_MANGLE)
    if not base:
        return
    rest = name[bracket:]
    container = root
    key: bytes | None = base
    pos = 0
    level = 0
    while True:
        level += 1
        if level > MAX_INPUT_NESTING_LEVEL:
            root.pop(_normal_key(base), None)
            return
        close = rest.find(b"]", pos + 1)
        if close < 0:
            if level == 1:
                # an unclosed first bracket is not an index: the name keeps it, mangled
                root.put(base + b"_" + rest[pos + 1 :].translate(_TAIL_MANGLE), value)
            else:
                container.put(key, value)
            return
        container = container.child(key)
        index = rest[pos + 1 : close]
        # PHP skips one blank before looking for "]", so "[ ]" is "[]": an append (checked with php 8.2)
        key = None if index == b"" or index in _ONE_BLANK else index
        pos = close + 1
        if rest[pos : pos + 1] != b"[":
            container.put(key, value)
            return


def _plain(array: _PhpArray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in array.items():
        text = str(key) if isinstance(key, int) else to_text(key)
        out[text] = _plain(value) if isinstance(value, _PhpArray) else to_text(value)
    return out


def parse_str(query: str | bytes, max_input_vars: int | None = None) -> dict[str, Any]:
    """PHP ``parse_str``: nested dicts with string keys, every leaf a string (protocol §2.2)."""
    raw = (query if isinstance(query, bytes) else to_bytes(query)).split(b"\0", 1)[0]
    pairs: list[tuple[bytes, bytes]] = []
    for pair in raw.split(b"&"):
        if not pair:
            continue
        if max_input_vars is not None and len(pairs) >= max_input_vars:
            break
        name, equals, value = pair.partition(b"=")
        pairs.append((url_decode(name), url_decode(value) if equals else b""))
    return register_pairs(pairs)


def register_pairs(pairs: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """Decoded name/value pairs into PHP's nested structure (form and multipart fields too)."""
    root = _PhpArray()
    for name, value in pairs:
        _register(root, name, value)
    return _plain(root)


@dataclass(frozen=True)
class Url:
    """The parts of a PHP ``parse_url`` result that a batch command uses."""

    path: str | None
    query: str | None


def _strtol_port(raw: bytes) -> int | None:
    match = re.match(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)", raw)
    if match is None:
        return None
    port = int(match.group(1))
    return port if 0 <= port <= 65535 else None


def parse_url(command: str) -> Url | None:
    """PHP ``parse_url`` reduced to path and query; ``None`` where PHP returns false."""
    raw = to_bytes(command)
    end = len(raw)
    start = 0
    port_seen = False
    colon = raw.find(b":")
    go = "path"
    if colon > 0:
        if all(byte in _SCHEME_CHARS for byte in raw[:colon]):
            if colon + 1 == end:
                return Url(None, None)
            if raw[colon + 1] != 0x2F:
                after = colon + 1
                while after < end and raw[after] in _DIGITS:
                    after += 1
                if (after == end or raw[after] == 0x2F) and after - colon < 7:
                    go = "port"
                else:
                    start = colon + 1
            elif raw[colon + 2 : colon + 3] == b"/":
                start = colon + 3
                go = "host"
                if raw[:colon].lower() == b"file" and raw[colon + 3 : colon + 4] == b"/":
                    start = colon + 4 if raw[colon + 5 : colon + 6] == b":" else colon + 3
                    go = "path"
            else:
                start = colon + 1
        elif colon + 1 < end and colon < _first_of(raw, 0, b"?#"):
            go = "port"
        elif raw.startswith(b"//"):
            start, go = 2, "host"
    elif colon == 0:
        go = "port"
    elif raw.startswith(b"//"):
        start, go = 2, "host"
    if go == "port":
        digits = colon + 1
        stop = digits
        while stop < end and stop - digits < 6 and raw[stop] in _DIGITS:
            stop += 1
        if 0 < stop - digits < 6 and (stop == end or raw[stop] == 0x2F):
            if _strtol_port(raw[digits:stop]) is None:
                return None
            port_seen = True
            if raw.startswith(b"//"):
                start = 2
            go = "host"
        elif digits == stop == end:
            return None
        elif raw.startswith(b"//"):
            start, go = 2, "host"
        else:
            go = "path"
    if go == "host":
        host_end = _first_of(raw, start, b"/?#")
        at = raw.rfind(b"@", start, host_end)
        if at >= 0:
            start = at + 1
        if start < end and raw[start] == 0x5B and raw[host_end - 1] == 0x5D:
            host_stop = host_end
        else:
            port_colon = raw.rfind(b":", start, host_end)
            host_stop = host_end if port_colon < 0 else port_colon
            if port_colon >= 0 and not port_seen:
                port_text = raw[port_colon + 1 : host_end]
                if len(port_text) > 5 or (port_text and _strtol_port(port_text) is None):
                    return None
        if host_stop - start < 1:
            return None
        if host_end == end:
            return Url(None, None)
        start = host_end
    return _just_path(raw, start)


def _first_of(raw: bytes, start: int, chars: bytes) -> int:
    positions = [p for p in (raw.find(bytes([c]), start) for c in chars) if p >= 0]
    return min(positions) if positions else len(raw)


def _just_path(raw: bytes, start: int) -> Url:
    end = len(raw)
    hash_at = raw.find(b"#", start)
    stop = end if hash_at < 0 else hash_at
    query: str | None = None
    question = raw.find(b"?", start, stop)
    if question >= 0:
        # PHP replaces control characters in the parts it returns (a raw newline becomes "_")
        query = to_text(raw[question + 1 : stop].translate(_CONTROL_TO_UNDERSCORE))
        stop = question
    path: str | None = None
    if start < stop or start == end:
        path = to_text(raw[start:stop].translate(_CONTROL_TO_UNDERSCORE))
    return Url(path, query)


def truthy(value: Any) -> bool:
    """PHP boolean casting: ``"0"``, ``""``, ``0``, ``0.0``, null and empty arrays are false."""
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, (Mapping, list, tuple)):
        return len(value) > 0
    return bool(value)
