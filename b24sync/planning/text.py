"""The text form of a plan: one block per batch, one line per command, then a summary line.

Links show as ``(known after apply: company.item.id)`` and secrets as ``***``; the text never holds
a secret because a plan never does.
"""

from __future__ import annotations

import json
import re

from b24sync.errors import format_path
from b24sync.pipeline.instances import instance_name
from b24sync.planning.model import Command, Link, Plan
from b24sync.report.render import plural

_SECRET = re.compile(r"\$secret\[[A-Za-z_][A-Za-z0-9_]*\]")
_PLAIN = re.compile(r"\A[^\s\"'=\[\]{}]+\Z")


def _target_names(plan: Plan) -> dict[str, str]:
    return {command.key: instance_name(command.step, command.instance) for command in plan.commands()}


def _show_text(text: str, links: list[tuple[Link, str]]) -> str:
    """Text as written, quoted when it holds blanks or quotes; links and secrets replaced."""
    marked = _SECRET.sub("\x00***\x00", text)
    for link, shown in links:
        marked = marked.replace(link.marker, f"\x00(known after apply: {shown})\x00")
    pieces = marked.split("\x00")
    literals = pieces[0::2]
    if all(not piece or _PLAIN.match(piece) for piece in literals) and (len(pieces) > 1 or text):
        return "".join(pieces)
    return (
        '"'
        + "".join(
            json.dumps(piece, ensure_ascii=False)[1:-1] if index % 2 == 0 else piece
            for index, piece in enumerate(pieces)
        )
        + '"'
    )


def _show_value(value: object, links: list[tuple[Link, str]]) -> str:
    if isinstance(value, str):
        return _show_text(value, links)
    if value == [] or value == {}:
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def _flatten(prefix: str, value: object, pairs: list[str], links: list[tuple[Link, str]]) -> None:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            shown = _show_text(str(key), links) if prefix == "" else f"[{_show_text(str(key), links)}]"
            _flatten(prefix + shown, child, pairs, links)
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            _flatten(f"{prefix}[{index}]", child, pairs, links)
    elif prefix:
        pairs.append(f"{prefix}={_show_value(value, links)}")


def show_params(command: Command, names: dict[str, str]) -> str:
    """The decoded parameters of a command on one line, links and secrets shown for people."""
    links = sorted(command.links, key=lambda link: -len(link.marker))
    shown = [(link, names.get(link.target, link.target) + _path_suffix(link)) for link in links]
    pairs: list[str] = []
    _flatten("", command.params, pairs, shown)
    return " ".join(pairs)


def _path_suffix(link: Link) -> str:
    text = format_path(link.path)
    return text if not text or text.startswith("[") else "." + text


def render_plan_text(plan: Plan) -> str:
    """The whole plan as text for a terminal or a review."""
    names = _target_names(plan)
    lines: list[str] = [f"{source.where}: {source.describe()}" for source in plan.sources]
    server = client = 0
    for batch in plan.batches:
        count = plural(len(batch.commands), "command")
        lines.append(f"batch {batch.index} ({count}{', halt' if batch.halt else ''})")
        rows = [(c.key, names[c.key], c.method, show_params(c, names)) for c in batch.commands]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for row in rows:
            head = "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            lines.append(f"  {head}  {row[3]}".rstrip())
        for command in batch.commands:
            server += sum(link.resolution == "server" for link in command.links)
            client += sum(link.resolution == "client" for link in command.links)
    total = sum(len(batch.commands) for batch in plan.batches)
    lines.append(
        f"{plural(total, 'command')} in {plural(len(plan.batches), 'batch', 'batches')} "
        f"({plural(server, 'link')} resolved by the portal, {client} by b24sync)"
    )
    if plan.left_out:
        steps = ", ".join(f"{each.step} ({plural(each.commands, 'command')})" for each in plan.left_out)
        lines.append(f"left out ({plan.selected_by}): {steps}")
        outside = sorted({link.target for _, link in plan.outside_links()})
        if outside:
            lines.append(
                f"  links into them take the results of {', '.join(outside)} from the --resume report"
            )
    return "\n".join(lines) + "\n"


_SIGNS = {"create": "+", "update": "~", "unchanged": "=", "delete": "-"}


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def render_changes(plan: Plan, diff: bool = False) -> str:
    """Upsert steps: ``+ create``, ``~ update``, ``= unchanged``, ``- delete`` counts per step.

    With ``diff``, each update lists ``field: old -> new``. Conflicts are listed with their reason;
    deletes that ``apply`` would not run without ``--allow-delete`` say so.
    """
    counts: dict[str, dict[str, int]] = {}
    details: list[str] = []
    names = _target_names(plan)
    for command in plan.commands():
        if command.action == "call":
            continue
        counts.setdefault(command.step, dict.fromkeys(_SIGNS, 0))[command.action] += 1
        if diff and command.action == "update":
            details.append(f"  ~ {names[command.key]} (id {command.record_id})")
            links = sorted(command.links, key=lambda link: -len(link.marker))
            shown = [(link, names.get(link.target, link.target) + _path_suffix(link)) for link in links]
            for field, (old, new) in command.diff.items():
                new_text = _show_text(new, shown) if isinstance(new, str) else _short(new)
                details.append(f"      {field}: {_short(old)} -> {new_text}")
    pending_deletes = 0
    for unsent in plan.unsent:
        step_counts = counts.setdefault(unsent.step, dict.fromkeys(_SIGNS, 0))
        if unsent.action in ("unchanged", "delete"):
            step_counts[unsent.action] += 1
            pending_deletes += unsent.action == "delete"
        elif unsent.action == "conflict":
            details.append(f"  ! {instance_name(unsent.step, unsent.instance)}: {unsent.message}")
        else:
            details.append(f"  ! {instance_name(unsent.step, unsent.instance)} not planned: {unsent.message}")
    if not counts and not details:
        return ""
    lines = ["changes:"]
    for step, numbers in counts.items():
        shown_counts = ", ".join(f"{_SIGNS[action]} {numbers[action]} {action}" for action in _SIGNS)
        lines.append(f"  {step}: {shown_counts}")
    lines += details
    if pending_deletes:
        deletes = plural(pending_deletes, "delete")
        lines.append(f"  {deletes} shown above will run only with apply --allow-delete")
    return "\n".join(lines) + "\n"
