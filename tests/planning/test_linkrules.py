from __future__ import annotations

from b24sync.bitrix.methods import is_read
from b24sync.bitrix.references import marker
from b24sync.bitrix.results import is_known_path
from b24sync.errors import format_path
from b24sync.pipeline.template import LinkRef, LinkUse
from b24sync.planning.linkrules import client_reason


def use(path: tuple[str | int, ...], text_follows: bool = False) -> LinkUse:
    return LinkUse(("x",), LinkRef("t", None, path), text_follows=text_follows)


def test_reads_are_known_by_their_last_word() -> None:
    assert is_read("crm.item.list") and is_read("CRM.ITEM.GET") and is_read("user.current")
    assert is_read("crm.duplicate.findbycomm") and is_read("profile")
    assert not is_read("crm.item.add") and not is_read("crm.deal.contact.items.set")
    assert not is_read("some.custom.thing")  # unknown methods count as writes


def test_known_paths_follow_the_reference() -> None:
    assert is_known_path("crm.item.add", ("item", "id")) and is_known_path("CRM.ITEM.UPDATE", ("item", "id"))
    assert is_known_path("crm.contact.add", ()) and is_known_path("tasks.task.add", ("task", "id"))
    assert not is_known_path("crm.item.add", ("item", "companyId"))  # may be null: the portal falls back
    assert not is_known_path("crm.item.list", ("items", 0, "id"))


def test_text_right_after_a_link_always_needs_b24sync() -> None:
    reason = client_reason(use(("item", "id"), text_follows=True), "crm.item.add", writes=False)
    assert reason is not None and "swallow" in reason


def test_a_path_that_may_be_missing_needs_b24sync_only_for_writes() -> None:
    assert client_reason(use(("items", 0, "id")), "crm.item.list", writes=False) is None
    reason = client_reason(use(("items", 0, "id")), "crm.item.list", writes=True)
    assert reason is not None and reason.startswith(
        "items[0].id may be missing from the result of crm.item.list"
    )
    assert client_reason(use(("item", "id")), "crm.item.add", writes=True) is None


def test_text_forms() -> None:
    assert marker("k", ("items", 0, "id")) == "$result[k][items][0][id]"
    assert marker("k", ()) == "$result[k]"
    assert format_path(("items", 0, "id")) == "items[0].id"
    assert format_path((0, "id")) == "[0].id"
