"""The reference forms the portal substitutes inside a batch (protocol §4.1, §4.3)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

PathStep = str | int

REFERENCE_PREFIXES: Final = ("result", "next", "total", "time", "error")
# A reference an encoded command reads, raw or percent-encoded: group 1 is the command key.
ENCODED_REFERENCE: Final = re.compile(
    r"(?:\$|%24)(?:result|next|total|time|error)(?:\[|%5B)(.*?)(?:\]|%5D)", re.IGNORECASE
)
# Text the portal would read as a reference (its prefix match ignores case); b24sync's own
# ``$secret[`` marker is refused in literal text for the same reason.
REFERENCE_TEXT: Final = re.compile(r"\$(result|next|total|time|error|secret)\[", re.IGNORECASE)
# A whole ``$result`` marker: every bracket group after it, so a shorter marker never matches inside a
# longer one (a reference runs to the next whitespace, rule 1).
LINK_MARKER: Final = re.compile(r"\$result(?:\[[^\[\]\s]*\])+")


@lru_cache(maxsize=4096)
def marker(key: str, path: tuple[PathStep, ...]) -> str:
    """The reference text the portal reads: ``$result[key][p1][p2]``."""
    return f"$result[{key}]" + "".join(f"[{part}]" for part in path)
