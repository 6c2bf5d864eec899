"""Reading the field contract from the emulator: two requests, pipelines' stages, refusals."""

from __future__ import annotations

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import ApiError
from b24sync.fields.read import read_fields


def client(emu: Emulator) -> B24Hook:
    return B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)


def test_fields_and_every_status_list_they_name_in_two_requests() -> None:
    emu = Emulator()
    hook = client(emu)
    hook.call_method("crm.category.add", {"entityTypeId": 2, "fields": {"name": "B2B"}})
    hook.call_method("crm.type.add", {"fields": {"title": "Orders", "entityTypeId": 1038}})
    before = emu.stats()["requests"]
    snapshot = read_fields(hook, ["crm.item:2", "crm.item:1038", "crm.contact", "tasks.task"])
    assert emu.stats()["requests"] - before == 2
    deal = snapshot.entities["crm.item:2"]
    assert deal.names == "camel" and deal.categories == (0, 1)
    assert deal.fields["stageId"].status_type == "DEAL_STAGE" and deal.fields["categoryId"].immutable
    assert snapshot.statuses["DEAL_STAGE_1"][0].id == "C1:NEW"
    assert snapshot.statuses["DYNAMIC_1038_STAGE_2"][0].id == "DT1038_2:NEW"
    contact = snapshot.entities["crm.contact"]
    assert contact.names == "upper" and contact.fields["PHONE"].type == "crm_multifield"
    task = snapshot.entities["tasks.task"]
    assert task.fields["TITLE"].required and task.fields["ID"].read_only
    assert task.fields["PRIORITY"].options == {"2": "High", "1": "Medium", "0": "Low"}


def test_an_entity_the_portal_lacks_is_absent_and_a_refusal_is_unread() -> None:
    emu = Emulator(scopes="crm")
    snapshot = read_fields(client(emu), ["crm.item:1040", "tasks.task", "crm.item:3"], strict=False)
    assert snapshot.absent == ("crm.item:1040",) and snapshot.unread == ("tasks.task",)
    assert "unread" not in snapshot.model_dump()
    with pytest.raises(ApiError, match=r"reading the fields \(tasks.task.getFields\) failed"):
        read_fields(client(emu), ["tasks.task"])
