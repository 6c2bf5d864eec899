"""From an HTTP request to a REST call: route, method name and merged parameters (protocol §1)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import unquote

from b24sync.emulator.phpquery import parse_str, register_pairs

CONTROL_PREFIX = "/_emulator/"
JSON_MAX_DEPTH = 512
"""PHP ``json_decode``'s default depth: a deeper body fails to decode, so it becomes empty params."""


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as received: verb, target (path and query), headers and body."""

    verb: str
    target: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str:
        """A header's value without regard to the case of its name; empty when absent."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return ""


@dataclass(frozen=True)
class Route:
    """Where a request goes: a webhook call, an OAuth-style call, an emulator control, or nowhere."""

    kind: str
    method: str = ""
    user: str = ""
    token: str = ""


def split_target(target: str) -> tuple[str, str]:
    """Path and raw query string of a request target (a full URL is accepted too)."""
    if "://" in target.split("?", 1)[0]:
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    target = target.split("#", 1)[0]
    path, _, query = target.partition("?")
    return path, query


def route(path: str) -> Route:
    """Read the REST path: ``/rest/<user>/<token>/<method>[.json][/]`` or ``/rest/<method>``."""
    if path.startswith(CONTROL_PREFIX):
        return Route("control", method=path[len(CONTROL_PREFIX) :].strip("/"))
    parts = [unquote(part) for part in path.split("/")]
    if len(parts) < 3 or parts[0] != "" or parts[1] != "rest":
        return Route("unknown")
    rest = parts[2:]
    if rest and rest[-1] == "":
        rest = rest[:-1]  # protocol §1.1: a trailing slash after the method also works
    if len(rest) >= 3:
        return Route("webhook", method=method_name("/".join(rest[2:])), user=rest[0], token=rest[1])
    if len(rest) == 2:
        return Route("webhook", method="", user=rest[0], token=rest[1])
    return Route("oauth", method=method_name(rest[0] if rest else ""))


def method_name(raw: str) -> str:
    """protocol §1.3: names are case-insensitive; §1.1: an optional ``.json`` format suffix."""
    name = raw.lower()
    return name[:-5] if name.endswith(".json") else name


def _php_array(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return {}


def _depth(value: Any) -> int:
    deepest = 0
    pending = [(value, 1)]
    while pending:
        node, level = pending.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            pending.extend((item, level + 1) for item in node)
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def body_params(request: HttpRequest) -> dict[str, Any]:
    """The body as PHP reads it: JSON, form, multipart, or a raw query string (protocol §1.2)."""
    if not request.body:
        return {}
    content_type = request.header("Content-Type")
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            decoded = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return {}  # protocol §1.2: an undecodable JSON body silently becomes empty parameters
        if _depth(decoded) > JSON_MAX_DEPTH:
            return {}
        return _php_array(decoded)
    if kind == "multipart/form-data":
        return _multipart(content_type, request.body)
    return parse_str(request.body)


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body
    )
    pairs: list[tuple[bytes, bytes]] = []
    if not message.is_multipart():
        return {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            continue  # uploaded files go to PHP's $_FILES, not to the parameters
        payload = part.get_payload(decode=True)
        pairs.append(
            (name.encode("utf-8", "surrogateescape"), payload if isinstance(payload, bytes) else b"")
        )
    return register_pairs(pairs)


def request_params(request: HttpRequest) -> dict[str, Any]:
    """Query and body merged; a top-level body key replaces the same query key (protocol §1.2)."""
    _, query = split_target(request.target)
    merged = parse_str(query) if query else {}
    merged.update(body_params(request))
    return merged
