"""The portal's field contract: the fields of every entity a pipeline writes (``read``, once per
run, or a committed ``snapshot`` file), what the pipeline writes (``targets``), and the problems a
portal would hide (``check``): unknown, read-only and missing required fields, values that do not
exist."""

from b24sync.fields.check import check_pipeline
from b24sync.fields.model import EntityFields, FieldInfo, FieldSnapshot
from b24sync.fields.read import read_fields
from b24sync.fields.snapshot import SNAPSHOT_NAME, read_snapshot, write_snapshot
from b24sync.fields.targets import targets

__all__ = [
    "SNAPSHOT_NAME",
    "EntityFields",
    "FieldInfo",
    "FieldSnapshot",
    "check_pipeline",
    "read_fields",
    "read_snapshot",
    "targets",
    "write_snapshot",
]
