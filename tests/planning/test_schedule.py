"""The packing of chains (issue 17): whole chains in one batch, a cut chain's rest SPREAD batches later."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from b24sync.planning.model import Plan
from b24sync.planning.schedule import SPREAD
from b24sync.run.executor import MAX_PARALLEL, _needs
from tests.planning.test_planner import plan_steps


def chains(count: int) -> list[dict[str, Any]]:
    """company -> contact -> deal -> task for each of ``count`` items (tests/bench/compare.py's workload)."""
    items = [{"id": f"c{i}"} for i in range(count)]
    link = "{{{{ steps.{}[item.id].item.id }}}}"
    return [
        {"id": "company", "for_each": items, "key": "{{ item.id }}", "method": "crm.item.add"},
        *(
            {
                "id": step,
                "for_each": items,
                "key": "{{ item.id }}",
                "method": "crm.item.add",
                "params": {"fields": {"parentId": link.format(target)}},
            }
            for target, step in (("company", "contact"), ("contact", "deal"), ("deal", "task"))
        ),
    ]


def depth(plan: Plan) -> int:
    """The longest line of batches each waiting for the one before it (what --parallel cannot overlap)."""
    needs = _needs(plan.batches)
    longest: dict[int, int] = {}
    for batch in plan.batches:
        longest[batch.index] = 1 + max((longest[n] for n in needs[batch.index]), default=0)
    return max(longest.values())


def test_a_chain_goes_whole_into_one_batch_with_its_links_resolved_by_the_portal(tmp_path: Path) -> None:
    plan = plan_steps(tmp_path, chains(12))  # 48 commands: one batch
    keys = [c.key for c in plan.batches[0].commands]
    assert keys[:8] == [f"{step}_c{n}" for n in (0, 1) for step in ("company", "contact", "deal", "task")]
    assert all(link.resolution == "server" for c in plan.commands() for link in c.links)


def test_chains_cut_by_a_batch_end_keep_the_fewest_requests_and_lines_short_enough_to_overlap(
    tmp_path: Path,
) -> None:
    plan = plan_steps(tmp_path, chains(1000))
    assert len(plan.batches) == math.ceil(4000 / 50)
    assert all(len(b.commands) == 50 for b in plan.batches)
    # all heads first (the file order) made two lines of 40 batches; now a batch waits for one at
    # most SPREAD back, so MAX_PARALLEL requests stay in flight
    assert depth(plan) == 2
    needs = _needs(plan.batches)
    assert all(not needs[i] for i in range(SPREAD))
    assert all(index - n >= SPREAD for index, wanted in needs.items() for n in wanted)
    client = [link for c in plan.commands() for link in c.links if link.resolution == "client"]
    assert len(client) == 40  # one cut chain every other batch; every other link is the portal's


def test_the_rest_of_a_cut_chain_goes_sooner_when_nothing_else_is_ready(tmp_path: Path) -> None:
    plan = plan_steps(tmp_path, chains(3), batch_size=5)  # 12 commands: 3 batches, whatever the links
    assert [len(b.commands) for b in plan.batches] == [5, 5, 2]
    assert [c.key for c in plan.batches[0].commands] == [
        "company_c0",
        "contact_c0",
        "deal_c0",
        "task_c0",
        "company_c1",
    ]


def test_the_spread_is_the_most_requests_apply_puts_in_flight() -> None:
    assert SPREAD == MAX_PARALLEL
