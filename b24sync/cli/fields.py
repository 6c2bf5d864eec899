"""``b24sync fields``: read the fields of every entity pipelines write, and save them as a snapshot."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from b24sync.cli.commands import (
    PortalOptions,
    _parse_vars,
    _var_option,
    choose_portal,
    handles_errors,
    main,
    open_portal,
    portal_options,
    say,
)
from b24sync.errors import UsageError

if TYPE_CHECKING:
    from b24sync.fields.model import FieldSnapshot

NO_PORTAL = (
    "b24sync fields reads a portal: pass --target NAME, set B24_WEBHOOK_URL, pass --webhook URL, "
    "or --emulator to read the built-in emulator's fields"
)


@main.command("fields")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_var_option
@portal_options
@click.option("--save", is_flag=True, help="Write the snapshot file (b24sync.fields.json beside the files).")
@click.option("--out", metavar="FILE", help="With --save: write the snapshot here instead.")
@handles_errors
def fields_command(
    files: tuple[str, ...],
    var_pairs: tuple[str, ...],
    portal: PortalOptions,
    save: bool,
    out: str | None,
) -> None:
    """Read the fields of every entity FILES write (and their stage and status lists) from the
    portal; with --save write them as the snapshot `validate` checks against offline (commit it)."""
    from b24sync.report.render import plural
    from b24sync.run.contract import save_fields

    choice = choose_portal(portal, None)
    if choice.implicit:
        # a snapshot of the emulator's fields would pass for a portal's: fields reads only a portal named
        raise UsageError(NO_PORTAL)
    connection = open_portal(choice, NO_PORTAL)
    try:
        saved = save_fields(
            files,
            connection.client,
            variables=_parse_vars(var_pairs),
            environ=os.environ,
            out=out,
            save=save,
        )
    finally:
        connection.close()
    for each in saved:
        say(_summary(each.snapshot))
        if save:
            say(f"wrote {each.path} ({plural(len(each.pipelines), 'pipeline')})")


def _summary(snapshot: FieldSnapshot) -> str:
    from b24sync.report.render import plural

    lines = []
    for key, entity in sorted(snapshot.entities.items()):
        required = sum(info.required for info in entity.fields.values())
        lines.append(f"{key}: {plural(len(entity.fields), 'field')}, {required} required ({entity.title})")
    for key in snapshot.absent:
        lines.append(f"{key}: not in the portal")
    lists = sorted(snapshot.statuses)
    if lists:
        lines.append(f"status lists: {', '.join(lists)}")
    return "\n".join(lines) if lines else "the files write no records"
