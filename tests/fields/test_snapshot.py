"""The snapshot file: the same fields give the same bytes; a bad file is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.errors import UsageError
from b24sync.fields.model import EntityFields, FieldInfo, FieldSnapshot, StatusEntry
from b24sync.fields.snapshot import default_path, dump_snapshot, read_snapshot, write_snapshot

SNAPSHOT = FieldSnapshot(
    entities={
        "crm.item:3": EntityFields(title="contact", names="camel", fields={"name": FieldInfo(type="string")})
    },
    statuses={"SOURCE": (StatusEntry(id="WEB", name="Website"),)},
    unread=("tasks.task",),
)


def test_a_snapshot_round_trips_and_never_keeps_what_was_not_read(tmp_path: Path) -> None:
    path = tmp_path / "b24sync.fields.json"
    write_snapshot(SNAPSHOT, path)
    assert read_snapshot(path) == SNAPSHOT.model_copy(update={"unread": ()})
    assert path.read_text(encoding="utf-8") == dump_snapshot(read_snapshot(path))
    assert '"unread"' not in path.read_text(encoding="utf-8")
    assert default_path("pipelines/a.yaml") == "pipelines/b24sync.fields.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "is not a b24sync field snapshot (Input should be an object)"),
        ('{"version": 2}', "(version: Input should be 1)"),
        ("{", "is not a b24sync field snapshot"),
    ],
)
def test_a_file_that_is_not_a_snapshot_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        read_snapshot(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UsageError, match="cannot read field snapshot"):
        read_snapshot(tmp_path / "missing.json")
