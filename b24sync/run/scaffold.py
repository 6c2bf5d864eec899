"""``b24sync init``: the files a new project starts from, written next to nothing it would overwrite.

The starter files are package data (``b24sync/run/starter/``); the schema is generated from the
models, so an editor's completion always matches the installed b24sync. A file that exists is kept
as it is; ``.gitignore`` gets the lines it lacks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from b24sync.pipeline.models import json_schema
from b24sync.report.files import write_output
from b24sync.version import __version__

PLACEHOLDER_OWNER = "OWNER"
ACTION_MARK = "{action}"


@dataclass(frozen=True)
class Written:
    """One file of the starter and what ``init`` did with it."""

    path: str
    state: Literal["created", "kept", "updated"]
    needs_edit: bool = False
    """The file names the Action with a placeholder owner, to replace."""


def default_action() -> str:
    """The b24sync Action at this version, its owner left for the user to fill in."""
    return f"{PLACEHOLDER_OWNER}/b24sync@v{__version__}"


def scaffold(folder: str | os.PathLike[str], *, action: str | None = None) -> list[Written]:
    """Write the starter project into ``folder`` (created when missing); return what happened to each file."""
    root = Path(folder)
    uses = action or default_action()
    files: list[tuple[str, str, bool]] = [
        ("pipelines/contacts.yaml", _starter("contacts.yaml"), False),
        ("pipelines/data/contacts.csv", _starter("contacts.csv"), False),
        ("pipelines/pipeline.schema.json", json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", False),
        ("b24sync.toml", _starter("b24sync.toml"), False),
        (
            ".github/workflows/b24sync.yml",
            _starter("workflow.yml").replace(ACTION_MARK, uses),
            action is None,
        ),
    ]
    written: list[Written] = []
    for relative, text, placeholder in files:
        target = root / relative
        if target.exists():
            written.append(Written(relative, "kept"))
            continue
        write_output(target, text, what="starter file", make_parents=True)
        written.append(Written(relative, "created", needs_edit=placeholder))
    written.append(_gitignore(root))
    return written


def _starter(name: str) -> str:
    return resources.files("b24sync.run").joinpath("starter").joinpath(name).read_text(encoding="utf-8")


def _gitignore(root: Path) -> Written:
    """Add the starter's ignore lines that ``.gitignore`` lacks, after what it has."""
    target = root / ".gitignore"
    wanted = _starter("gitignore").splitlines()
    try:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
    except (OSError, UnicodeDecodeError) as error:
        raise_from = getattr(error, "strerror", None) or error
        from b24sync.errors import UsageError

        raise UsageError(f"cannot read {target}: {raise_from}") from None
    have = {line.strip() for line in current.splitlines()}
    missing = [
        line for line in wanted if line.strip() and line.strip() not in have and not line.startswith("#")
    ]
    if not missing:
        return Written(".gitignore", "kept")
    header = [line for line in wanted if line.startswith("#")]
    lead = "" if not current or current.endswith("\n") else "\n"
    gap = "\n" if current.strip() else ""
    text = current + lead + gap + "\n".join([*header, *missing]) + "\n"
    write_output(target, text, what=".gitignore", make_parents=True)
    return Written(".gitignore", "updated" if current else "created")
