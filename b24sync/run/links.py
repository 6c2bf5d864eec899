"""Strict resolution of links and secrets in command parameters. Pure.

The portal resolves ``$result[...]`` leniently: a missing path silently yields the deepest existing
node (protocol §4.3 rule 2). b24sync resolves the links it substitutes itself strictly instead: a
missing path, or a ``null`` where a value was expected, is an error for that command, never a wrong
value sent to the portal. Where a link is the whole value its type is kept, as the portal does
(rule 3); inside longer text only a scalar may be spliced in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from b24sync.bitrix.references import LINK_MARKER
from b24sync.errors import B24SyncError

# b24sync's own marker of a secret, substituted just before sending (never shown, never in a plan).
SECRET_MARKER = re.compile(r"\$secret\[([A-Za-z_][A-Za-z0-9_]*)\]")


class LinkError(B24SyncError):
    """A link whose path is missing from the result it points into."""


def follow(value: Any, path: Sequence[str | int]) -> Any:
    """The node at ``path`` inside a result; LinkError naming the first missing step."""
    node = value
    for depth, step in enumerate(path):
        found = _MISSING
        if isinstance(node, Mapping):
            found = node.get(str(step), _MISSING)
        elif isinstance(node, list):
            index = step if isinstance(step, int) else int(step) if step.isdigit() else None
            if index is not None and 0 <= index < len(node):
                found = node[index]
        if found is _MISSING or found is None:
            where = "".join(f"[{s}]" for s in path[: depth + 1])
            what = "is null" if found is None else "does not exist"
            raise LinkError(f"{where} {what} in the result")
        node = found
    return node


class _Missing:
    pass


_MISSING: Any = _Missing()


def _scalar_text(value: Any, marker: str) -> str:
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise LinkError(f"{marker} is a {type(value).__name__}, which cannot be placed inside text")


def substitute(
    params: Any, replacements: Mapping[str, Any], secret: Callable[[str], str] | None = None
) -> Any:
    """Copy ``params`` with each marker text replaced by its value (whole value keeps its type)."""
    if isinstance(params, str):
        if params in replacements:
            return replacements[params]
        text = params
        if replacements and "$result[" in text:
            text = LINK_MARKER.sub(
                lambda m: _scalar_text(replacements[m[0]], m[0]) if m[0] in replacements else m[0], text
            )
        if secret is not None and "$secret[" in text:
            text = SECRET_MARKER.sub(lambda m: secret(m[1]), text)
        return text
    if isinstance(params, Mapping):
        return {key: substitute(value, replacements, secret) for key, value in params.items()}
    if isinstance(params, list):
        return [substitute(value, replacements, secret) for value in params]
    return params
