"""The binary data files of the examples are what tests/helpers/example_data.py makes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.helpers.example_data import DATA, write_all


def test_the_committed_data_files_are_what_the_script_writes(tmp_path: Path) -> None:
    for made in write_all(tmp_path):
        committed = DATA / made.name
        if made.suffix == ".db":
            # a SQLite file may differ byte for byte between library versions: compare its rows
            query = "select * from customers order by id"
            with sqlite3.connect(made) as fresh, sqlite3.connect(committed) as kept:
                assert kept.execute(query).fetchall() == fresh.execute(query).fetchall()
            fresh.close()
            kept.close()
        else:
            assert committed.read_bytes() == made.read_bytes(), (
                f"run python -m tests.helpers.example_data ({made.name})"
            )
