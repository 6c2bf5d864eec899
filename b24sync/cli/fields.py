"""``b24sync fields``: read the fields of every entity pipelines write, and save them as a snapshot."""

from __future__ import annotations

import os

import click

from b24sync.cli.commands import _parse_vars, _var_option, handles_errors, main, open_portal, portal_options
from b24sync.fields.model import FieldSnapshot
from b24sync.report.render import plural
from b24sync.run.contract import save_fields

NO_PORTAL = "b24sync fields reads a portal: set B24_WEBHOOK_URL, pass --webhook URL, or try --emulator"


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
    webhook: str | None,
    use_emulator: bool,
    emulator_state: str | None,
    save: bool,
    out: str | None,
) -> None:
    """Read the fields of every entity FILES write (and their stage and status lists) from the
    portal; with --save write them as the snapshot `validate` checks against offline (commit it)."""
    portal = open_portal(webhook, use_emulator, emulator_state, None, NO_PORTAL)
    try:
        saved = save_fields(
            files,
            portal.client,
            variables=_parse_vars(var_pairs),
            environ=os.environ,
            out=out,
            save=save,
        )
    finally:
        portal.close()
    for each in saved:
        click.echo(_summary(each.snapshot))
        if save:
            click.echo(f"wrote {each.path} ({plural(len(each.pipelines), 'pipeline')})")


def _summary(snapshot: FieldSnapshot) -> str:
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
