"""docs/cli.md cannot drift from the commands: every command, argument, option and exit code is there.

Generic over click's command objects, so a new option fails this test until it is documented.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from b24sync import cli
from b24sync.cli.exits import Exit

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
COMMANDS = sorted(cli.main.commands)
# A command's section: from its "## `b24sync NAME ...`" heading to the next "## " heading.
SECTION = re.compile(r"^## `b24sync (\S+)([^`]*)`\n(.*?)(?=^## |\Z)", re.S | re.M)
SECTIONS = {name: (usage.strip(), body) for name, usage, body in SECTION.findall(DOC)}
# The first cell of an option table row: `--opt ARG` or `--a` / `--b`.
ROW = re.compile(r"^\| (`-[^|]*?) \|", re.M)


def _options(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            names.update(param.opts + param.secondary_opts)
    return names


def _documented_options(body: str) -> set[str]:
    names: set[str] = set()
    for cell in ROW.findall(body):
        names.update(re.findall(r"`(-{1,2}[a-z][a-z0-9-]*)", cell))
    return names


def test_every_command_has_a_section_and_every_section_is_a_command() -> None:
    assert sorted(SECTIONS) == COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_the_section_heading_is_the_commands_usage(name: str) -> None:
    command = cli.main.commands[name]
    with click.Context(command, info_name=name) as context:
        usage = " ".join(command.collect_usage_pieces(context))
    assert SECTIONS[name][0] == usage


@pytest.mark.parametrize("name", COMMANDS)
def test_the_option_table_lists_exactly_the_commands_options(name: str) -> None:
    command = cli.main.commands[name]
    documented = _documented_options(SECTIONS[name][1])
    assert sorted(_options(command) - documented) == [], "options missing from docs/cli.md"
    assert sorted(documented - _options(command)) == [], "documented options that --help does not have"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_default_shown_by_help_is_the_documented_one(name: str) -> None:
    command = cli.main.commands[name]
    rows = {cell: line for line in SECTIONS[name][1].splitlines() for cell in ROW.findall(line + "\n")}
    for param in command.params:
        if isinstance(param, click.Option) and param.show_default and param.default is not None:
            line = next(line for cell, line in rows.items() if f"`{param.opts[0]}" in cell)
            default_cell = line.split(" | ")[1]
            assert f"`{param.default}`" in default_cell, (param.opts[0], default_cell)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_section_states_its_exit_codes(name: str) -> None:
    assert "Exit code" in SECTIONS[name][1]


def test_the_exit_code_table_is_the_one_the_cli_maps() -> None:
    table = DOC[DOC.index("## Exit codes") : DOC.index("## `b24sync")]
    documented = sorted(int(code) for code in re.findall(r"^\| `(\d+)` \|", table, re.M))
    constants = sorted(int(code) for code in Exit)
    assert documented == constants
