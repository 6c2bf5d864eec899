"""docs/pipeline-reference.md documents every key of the pipeline schema, and no key the schema lacks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from b24sync.pipeline import json_schema

DOC = (Path(__file__).resolve().parents[2] / "docs" / "pipeline-reference.md").read_text(encoding="utf-8")
# Tables whose header starts "| Key |"; their first column names the keys.
KEY_TABLES = re.findall(r"^\| Key \|.*\n\|[-|]+\|\n((?:\|.*\n)+)", DOC, re.M)
DOCUMENTED = {key for table in KEY_TABLES for key in re.findall(r"^\| `([A-Za-z_]+)` \|", table, re.M)}


def _properties(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        yield from node.get("properties", {})
        for value in node.values():
            yield from _properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value)


SCHEMA_KEYS = set(_properties(json_schema()))


def test_every_schema_key_is_in_a_table_of_the_reference() -> None:
    assert sorted(SCHEMA_KEYS - DOCUMENTED) == []


def test_every_key_in_the_key_tables_exists_in_the_schema() -> None:
    assert sorted(DOCUMENTED - SCHEMA_KEYS) == []


def test_the_reference_has_its_key_tables() -> None:
    assert len(KEY_TABLES) >= 4  # top level, defaults, steps, for_each
