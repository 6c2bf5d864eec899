"""Models b24sync builds itself (``built``) are the models validation gives, and a plan's commands
share their field names, which is what keeps a million-command plan in memory."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from b24sync.pipeline.models import built
from b24sync.planning.model import Command

VALUES = {
    "key": "contact[a@example.com]",
    "step": "contact",
    "instance": "a@example.com",
    "method": "crm.item.add",
    "params": {"entityTypeId": 3, "fields": {"name": "A"}},
    "query": "entityTypeId=3&fields%5Bname%5D=A",
    "links": (),
    "depends_on": (),
    "secrets": (),
    "action": "call",
    "record_id": None,
    "diff": {},
}


def test_a_built_command_is_the_validated_command() -> None:
    validated = Command.model_validate(VALUES)
    command = built(Command, dict(VALUES))
    assert command == validated
    assert command.model_dump_json() == validated.model_dump_json()
    assert Command.model_validate_json(command.model_dump_json()) == validated


def test_built_commands_keep_their_own_values() -> None:
    first = built(Command, dict(VALUES))
    second = built(Command, {**VALUES, "key": "contact[b@example.com]", "record_id": 7})
    assert (first.key, first.record_id) == ("contact[a@example.com]", None)
    assert (second.key, second.record_id) == ("contact[b@example.com]", 7)
    copied = first.model_copy(update={"key": "other"})
    assert (copied.key, first.key) == ("other", "contact[a@example.com]")
    assert first.model_fields_set == set(Command.model_fields)


def heap_per_model(make: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        kept = [make() for _ in range(2_000)]
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == 2_000
    return size / 2_000


FRESH_PROCESS = """
from tests.pipeline.test_built import VALUES, heap_per_model, with_own_table
from b24sync.pipeline.models import built
from b24sync.planning.model import Command
for number in range(500):
    Command.model_validate({**VALUES, "key": f"contact[{number}]"})
shared = heap_per_model(lambda: built(Command, dict(VALUES)))
own_table = heap_per_model(lambda: with_own_table(Command, dict(VALUES)))
print(shared, own_table)
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 gives each instance dict its own table")
def test_commands_share_their_field_names_after_validated_ones() -> None:
    # a plan file read first (pydantic validating hundreds of commands) must not cost the sharing
    # to the commands planned after it: in a fresh process, where nothing built one before
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    shared, own_table = map(float, done.stdout.split())
    assert shared < own_table * 0.8, (shared, own_table)


def with_own_table(model: type[BaseModel], values: dict[str, object]) -> BaseModel:
    """What ``built`` did before: the dict handed over keeps a table of its own."""
    made = model.__new__(model)
    object.__setattr__(made, "__dict__", values)
    return made
