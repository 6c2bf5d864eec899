"""Which links the portal may resolve inside a batch (protocol §4.3).

The portal substitutes ``$result[key][path]`` after decoding a command, but its reference runs to the
next whitespace, a missing path silently gives the deepest existing node, and an array inside text
is skipped. A link is left to the portal only where none of that can send a wrong value to a write.
"""

from __future__ import annotations

from b24sync.bitrix.results import is_known_path
from b24sync.errors import format_path
from b24sync.pipeline.template import LinkUse


def client_reason(use: LinkUse, target_method: str, writes: bool) -> str | None:
    """Why a link can never be left to the portal, or ``None`` when it may (protocol §4.3)."""
    if use.text_follows:
        return "text follows the link and the portal would swallow it (protocol §4.3 rule 1)"
    if writes and not is_known_path(target_method, use.ref.path):
        shown = format_path(use.ref.path) or "the whole result"
        return (
            f"{shown} may be missing from the result of {target_method} and this command writes: "
            "the portal would send a fallback value (protocol §4.3 rule 2)"
        )
    return None
