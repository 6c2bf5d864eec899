"""Lowering: each upsert instance becomes a create, an update of the diff, or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from b24sync.pipeline.loader import Pipeline, load_pipeline
from b24sync.pipeline.template import LinkRef
from b24sync.upsert.decide import Decision
from b24sync.upsert.lowering import UpsertState, deletions, lower

PIPELINE = """\
version: 1
name: lowering
steps:
  - id: company
    for_each: [{id: "1", name: Acme}, {id: "2", name: Beta}, {id: "3", name: Gamma}]
    key: "{{ item.id }}"
    upsert:
      entity: company
      match: {originatorId: shop, originId: "{{ item.id }}"}
      fields: {title: "{{ item.name }}"}
    delete_missing: true
  - id: deal
    for_each: ["1", "2", "3"]
    key: "{{ item }}"
    method: crm.item.add
    params: {entityTypeId: 2, fields: {title: "deal {{ item }}", companyId: "{{ steps.company[item].id }}"}}
"""


def _pipeline(tmp_path: Path, text: str = PIPELINE) -> Pipeline:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return load_pipeline(str(path))


STATE = UpsertState(
    decisions={
        ("company", "1"): Decision("1", "create"),
        ("company", "2"): Decision("2", "update", 20, {"title": ("Old", "Beta")}),
        ("company", "3"): Decision("3", "ambiguous", matches=(30, 31)),
    },
    deletes={"company": (99,)},
)


def test_a_pipeline_without_upsert_steps_lowers_to_nothing(tmp_path: Path) -> None:
    plain = "version: 1\nname: p\nsteps:\n  - {id: a, method: crm.item.add, params: {entityTypeId: 4}}\n"
    assert lower(_pipeline(tmp_path, plain), None) == (None, [])


def test_create_update_and_conflict(tmp_path: Path) -> None:
    lowered, settled = lower(_pipeline(tmp_path), STATE)
    assert lowered is not None
    create = lowered[("company", "1")]
    assert (create.method, create.action) == ("crm.item.add", "create")
    assert create.instance.params == {
        "entityTypeId": 4,
        "fields": {"originatorId": "shop", "originId": "1", "title": "Acme"},
    }
    update = lowered[("company", "2")]
    assert (update.method, update.action, update.record_id) == ("crm.item.update", "update", 20)
    assert update.instance.params == {"entityTypeId": 4, "id": 20, "fields": {"title": "Beta"}}
    assert [(s.step, s.instance, s.action) for s in settled] == [
        ("company", "3", "conflict"),
        ("deal", "3", "blocked"),
    ]
    assert "2 records match" in (settled[0].message or "") and "ids 30, 31" in (settled[0].message or "")
    assert settled[1].message == "depends on company[3], which matches several records"


def test_links_to_upsert_records_become_ids_or_the_creates_item_id(tmp_path: Path) -> None:
    lowered, _ = lower(_pipeline(tmp_path), STATE)
    assert lowered is not None
    to_update = lowered[("deal", "2")].instance
    assert to_update.params["fields"] == {"title": "deal 2", "companyId": 20}
    assert to_update.links == ()
    to_create = lowered[("deal", "1")].instance
    assert [use.ref for use in to_create.links] == [LinkRef("company", "1", ("item", "id"))]


def test_an_unchanged_record_sends_nothing(tmp_path: Path) -> None:
    state = UpsertState({("company", "1"): Decision("1", "unchanged", 10)})
    lowered, settled = lower(_pipeline(tmp_path), state)
    assert lowered is not None and ("company", "1") not in lowered
    assert (settled[0].action, settled[0].record_id) == ("unchanged", 10)
    fields: Any = lowered[("deal", "1")].instance.params["fields"]
    assert fields["companyId"] == 10


def test_deletes_wait_for_allow_delete(tmp_path: Path) -> None:
    step = _pipeline(tmp_path).steps[0]
    commands, held = deletions(step, STATE, allow_delete=False)
    assert commands == [] and [(u.key, u.action, u.record_id) for u in held] == [
        ("company_delete_99", "delete", 99)
    ]
    commands, held = deletions(step, STATE, allow_delete=True)
    assert held == [] and [(d.key, d.lowered.method, d.lowered.record_id) for d in commands] == [
        ("company_delete_99", "crm.item.delete", 99)
    ]
    assert commands[0].lowered.instance.params == {"entityTypeId": 4, "id": 99}
