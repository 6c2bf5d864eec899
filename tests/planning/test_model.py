"""A plan read from a file is one the executor can run, or it is refused when read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from b24sync.client.encoding import encode_command
from b24sync.planning.model import Plan


def plan_data(*commands: dict[str, Any], per_batch: int = 50) -> dict[str, Any]:
    full = [
        {
            "key": c["key"],
            "step": c["key"],
            "method": "crm.item.add",
            "params": {},
            "query": encode_command("crm.item.add"),
            **c,
        }
        for c in commands
    ]
    batches = [
        {"index": i, "halt": False, "commands": full[start : start + per_batch]}
        for i, start in enumerate(range(0, len(full), per_batch))
    ]
    return {"pipeline": {"path": "p.yaml", "sha256": "0" * 64}, "batches": batches}


LINK = {
    "marker": "$result[ghost][id]",
    "target": "ghost",
    "path": ["id"],
    "resolution": "client",
    "reason": "x",
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (plan_data({"key": "a", "links": [LINK]}), "refers to 'ghost', which is not in the plan"),
        (plan_data({"key": "a", "depends_on": ["ghost"]}), "refers to 'ghost'"),
        (plan_data({"key": "a"}, {"key": "a"}), "used twice"),
        (plan_data(*({"key": f"k{i}"} for i in range(51)), per_batch=51), "holds 51 commands"),
        (plan_data({"key": "a", "secrets": ["B24_WEBHOOK_URL"]}), "would send B24_WEBHOOK_URL"),
    ],
)
def test_a_hand_edited_plan_that_cannot_run_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Plan.model_validate_json(json.dumps(data))


def test_a_consistent_plan_reads_back() -> None:
    data = plan_data({"key": "a"}, {"key": "b", "depends_on": ["a"]})
    assert [c.key for c in Plan.model_validate(data).commands()] == ["a", "b"]
