"""Advice for portal refusals: which scope a method needs, and one sentence of what to do."""

from __future__ import annotations

import pytest

from b24sync.bitrix.advice import advice
from b24sync.bitrix.methods import required_scope


@pytest.mark.parametrize(
    ("method", "scope"),
    [
        ("crm.item.add", "crm"),
        ("CRM.Contact.List", "crm"),
        ("tasks.task.add", "task"),
        ("task.commentitem.add", "task"),
        ("user.get", "user"),
        ("server.time", None),
        ("profile", None),
    ],
)
def test_required_scope(method: str, scope: str | None) -> None:
    assert required_scope(method) == scope


def test_scope_advice_names_the_scope_and_the_method() -> None:
    assert advice("insufficient_scope", "tasks.task.add") == (
        "the webhook lacks the task scope that tasks.task.add needs: add task to the webhook's permissions "
        "in Bitrix24 (Developer resources > Other > Inbound webhook) and save"
    )


def test_scope_advice_without_a_known_scope_still_says_what_to_do() -> None:
    assert advice("insufficient_scope", "sale.order.add") == (
        "the webhook lacks the scope sale.order.add needs: add it to the webhook's permissions in Bitrix24 "
        "(Developer resources > Other > Inbound webhook)"
    )
    assert advice("insufficient_scope") == (
        "the webhook lacks a scope this call needs: add it to the webhook's permissions in Bitrix24 "
        "(Developer resources > Other > Inbound webhook)"
    )


def test_scope_advice_for_a_request_of_several_methods_lists_their_scopes() -> None:
    assert advice("insufficient_scope", ["crm.item.add", "tasks.task.add", "server.time"]) == (
        "the webhook lacks a scope that crm.item.add, tasks.task.add, server.time need: make sure its "
        "permissions in Bitrix24 (Developer resources > Other > Inbound webhook) include crm, task"
    )


@pytest.mark.parametrize("code", ["INVALID_CREDENTIALS", "NO_AUTH_FOUND", "invalid_token", "expired_token"])
def test_refused_credentials_say_to_copy_the_url_again(code: str) -> None:
    assert advice(code) == (
        "the portal refused the webhook's user id or code: copy the webhook URL again from Bitrix24 "
        "(Developer resources > Other > Inbound webhook) into B24_WEBHOOK_URL"
    )


@pytest.mark.parametrize("code", ["", "NOT_FOUND", "ACCESS_DENIED", "QUERY_LIMIT_EXCEEDED"])
def test_other_codes_get_no_advice(code: str) -> None:
    assert advice(code, "crm.item.add") is None
