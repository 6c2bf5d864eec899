"""``mode: import``: 20 records per crm.item.batchImport, 1,000 per request, links read from its answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from b24sync.errors import PipelineError
from b24sync.planning.model import Plan
from b24sync.planning.planner import plan_file


def contacts(count: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": "contact",
        "mode": "import",
        "for_each": [{"n": f"p{i}"} for i in range(count)],
        "key": "{{ item.n }}",
        "method": "crm.item.add",
        "params": {"entityTypeId": 3, "fields": {"name": "{{ item.n }}"}},
        **extra,
    }


DEALS = {
    "id": "deal",
    "for_each": "{{ vars.rows }}",
    "key": "{{ item.n }}",
    "method": "crm.item.add",
    "params": {"entityTypeId": 2, "fields": {"contactId": "{{ steps.contact[item.n].item.id }}"}},
}


def planned(tmp_path: Path, steps: list[dict[str, Any]], rows: int = 0) -> Plan:
    document = {
        "version": 1,
        "name": "t",
        "vars": {"rows": [{"n": f"p{i}"} for i in range(rows)]},
        "steps": steps,
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return plan_file(str(path))


def problems(tmp_path: Path, steps: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(PipelineError) as caught:
        planned(tmp_path, steps)
    return [f"{p.line}: {p.message}" for p in caught.value.problems]


def test_twenty_records_a_command_and_42_commands_a_request(tmp_path: Path) -> None:
    # 42 x 20 records keep one request inside the 60 s a cloud request may take (protocol §7.3)
    plan = planned(tmp_path, [contacts(2001)])
    assert [len(batch.commands) for batch in plan.batches] == [42, 42, 17]
    first = plan.batches[0].commands[0]
    assert first.method == "crm.item.batchImport"
    assert first.params == {"entityTypeId": 3, "data": [{"name": f"p{i}"} for i in range(20)]}
    assert [record.key for record in plan.imports[first.key]] == [f"contact_p{i}" for i in range(20)]
    assert first.query.startswith("crm.item.batchImport?entityTypeId=3&data%5B0%5D%5Bname%5D=p0&")
    assert [record.instance for record in plan.imports[plan.batches[2].commands[-1].key]] == ["p2000"]


def test_links_to_imported_records_read_the_import_answer_from_a_later_request(tmp_path: Path) -> None:
    plan = planned(tmp_path, [contacts(45), DEALS], rows=45)
    assert [[c.key for c in b.commands][:2] for b in plan.batches] == [
        ["contact_import0", "contact_import1"],
        ["deal_p0", "deal_p1"],
    ]
    assert [len(b.commands) for b in plan.batches] == [3, 45]
    deal = next(c for c in plan.commands() if c.key == "deal_p21")
    (link,) = deal.links
    assert (link.target, link.path, link.resolution) == (
        "contact_import1",
        ("items", 1, "item", "id"),
        "client",
    )
    # the marker in the parameters is unchanged: b24sync substitutes it before sending
    assert deal.params == {"entityTypeId": 2, "fields": {"contactId": link.marker}}
    assert not any(batch.halt for batch in plan.batches)
    Plan.model_validate_json(plan.model_dump_json())  # a plan file of it is valid


def test_an_import_step_must_be_a_plain_create_of_crm_items(tmp_path: Path) -> None:
    assert problems(tmp_path, [{**contacts(1), "method": "tasks.task.add"}]) == [
        "6: mode: import works with crm.item.add and upsert steps only"
    ]
    step = contacts(1)
    del step["for_each"], step["key"]
    assert problems(tmp_path, [step]) == [
        "6: mode: import needs a for_each: it packs many records into one command"
    ]


def test_an_import_step_takes_no_links_and_gives_only_its_ids(tmp_path: Path) -> None:
    company = {
        "id": "company",
        "method": "crm.item.add",
        "params": {"entityTypeId": 4, "fields": {"title": "A"}},
    }
    linked = contacts(2)
    linked["params"] = {"entityTypeId": 3, "fields": {"companyId": "{{ steps.company.item.id }}"}}
    assert problems(tmp_path, [company, linked]) == [
        "20: a mode: import step cannot link to other steps: its records are sent first"
    ]
    title = {
        **DEALS,
        "for_each": [{"n": "p0"}],
        "params": {"fields": {"title": "{{ steps.contact[item.n].item.name }}"}},
    }
    (message,) = problems(tmp_path, [contacts(1), title])
    assert message.endswith(
        "$result[contact_p0][item][name]: a mode: import step answers only item.id for each record"
    )
