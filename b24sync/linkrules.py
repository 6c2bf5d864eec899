"""Which links the portal may resolve inside a batch, and the text of a link (reference §4.3).

The portal substitutes ``$result[key][path]`` after decoding a command, but its reference runs to the
next whitespace, a missing path silently gives the deepest existing node, and an array inside text
is skipped. A link is left to the portal only where none of that can send a wrong value to a write.
"""

from __future__ import annotations

from functools import lru_cache

from b24sync.template import LinkUse

PathStep = str | int

# reference §4.3 rule 6, §9 and §10.1: on success, the result of these methods always holds these
# paths with a scalar value (a missing or null node would make the portal substitute something else).
KNOWN_PATHS: dict[str, frozenset[tuple[PathStep, ...]]] = {
    "crm.item.add": frozenset({("item", "id")}),
    "crm.item.update": frozenset({("item", "id")}),
    "crm.item.get": frozenset({("item", "id")}),
    "tasks.task.add": frozenset({("task", "id")}),
    "tasks.task.update": frozenset({("task", "id")}),
    "crm.contact.add": frozenset({()}),
    "crm.company.add": frozenset({()}),
    "crm.deal.add": frozenset({()}),
    "crm.lead.add": frozenset({()}),
    "crm.timeline.comment.add": frozenset({()}),
    "crm.activity.todo.add": frozenset({("id",)}),
    "user.current": frozenset({("ID",)}),
}
READ_VERBS = frozenset({"get", "list", "fields", "current", "time", "search", "findbycomm"})
READ_METHODS = frozenset({"profile", "scope", "methods"})


def is_read(method: str) -> bool:
    """Whether a method only reads (sending it twice, or with a wrong filter, changes nothing)."""
    name = method.lower()
    return name in READ_METHODS or name.rsplit(".", 1)[-1] in READ_VERBS


def is_known_path(method: str, path: tuple[PathStep, ...]) -> bool:
    """Whether ``path`` always exists in a successful result of ``method``."""
    return path in KNOWN_PATHS.get(method.lower(), frozenset())


def format_path(path: tuple[PathStep, ...]) -> str:
    """``('items', 0, 'id')`` as ``items[0].id``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@lru_cache(maxsize=4096)
def marker(key: str, path: tuple[PathStep, ...]) -> str:
    """The reference text the portal reads (reference §4.1): ``$result[key][p1][p2]``."""
    return f"$result[{key}]" + "".join(f"[{part}]" for part in path)


def client_reason(use: LinkUse, target_method: str, writes: bool) -> str | None:
    """Why a link can never be left to the portal, or ``None`` when it may (reference §4.3)."""
    if use.text_follows:
        return "text follows the link and the portal would swallow it (reference §4.3 rule 1)"
    if writes and not is_known_path(target_method, use.ref.path):
        shown = format_path(use.ref.path) or "the whole result"
        return (
            f"{shown} may be missing from the result of {target_method} and this command writes: "
            "the portal would send a fallback value (reference §4.3 rule 2)"
        )
    return None
