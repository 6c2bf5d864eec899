"""The field snapshot file: the contract read from a portal, kept beside the pipelines (commit it)
so that ``validate`` checks them offline, in CI, without a webhook.

The file is the ``FieldSnapshot`` model as indented JSON, keys sorted, so that reading the same
portal twice gives the same bytes and a review shows only what changed.
"""

from __future__ import annotations

import json
import os

from pydantic import ValidationError

from b24sync.errors import UsageError
from b24sync.fields.model import FieldSnapshot
from b24sync.report.files import write_output

SNAPSHOT_NAME = "b24sync.fields.json"
"""The snapshot's name in a folder of pipelines; ``validate`` finds it there by itself."""


def default_path(pipeline_path: str) -> str:
    """Where the snapshot of the pipelines in ``pipeline_path``'s folder lives."""
    return os.path.join(os.path.dirname(pipeline_path), SNAPSHOT_NAME)


def dump_snapshot(snapshot: FieldSnapshot) -> str:
    """The snapshot as the text of a snapshot file."""
    return json.dumps(snapshot.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_snapshot(snapshot: FieldSnapshot, path: str | os.PathLike[str]) -> None:
    """Write the snapshot file through the one output writer."""
    write_output(path, dump_snapshot(snapshot), what="field snapshot")


def read_snapshot(path: str | os.PathLike[str]) -> FieldSnapshot:
    """A snapshot file; a one-line ``UsageError`` for a file that cannot be read or is not one."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as error:
        raise UsageError(f"cannot read field snapshot {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a b24sync field snapshot (not UTF-8 text)") from None
    try:
        return FieldSnapshot.model_validate_json(text)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        raise UsageError(
            f"{path} is not a b24sync field snapshot ({detail}): write one with `b24sync fields --save`"
        ) from None
