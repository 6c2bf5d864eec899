"""``created_result`` is the inverse of ``created_id``: what a lean report's id becomes again on resume."""

from __future__ import annotations

import pytest

from b24sync.bitrix.results import created_id, created_result


@pytest.mark.parametrize(
    ("method", "ident", "shape"),
    [
        ("crm.item.add", 342, {"item": {"id": 342}}),
        ("tasks.task.add", "3711", {"task": {"id": "3711"}}),
        ("crm.contact.add", 46, 46),  # the old CRM add methods answer with the bare id
        ("crm.lead.add", 7, 7),
        ("crm.item.productrow.add", 5, {"productRow": {"id": 5}}),
        ("crm.type.add", 3, {"type": {"id": 3}}),
    ],
)
def test_the_least_result_gives_its_id_back(method: str, ident: int | str, shape: object) -> None:
    assert created_result(method, ident) == shape
    assert created_id(method, created_result(method, ident)) == ident


def test_an_imported_record_reads_as_the_crm_item_add_it_stands_for() -> None:
    assert created_result("crm.item.batchImport", 9) == {"item": {"id": 9}}
