"""crm.timeline.comment.add, crm.activity.todo.add (protocol §9.8) and crm.status.list (§9.9)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    portal = Portal(request.param)
    portal.call("crm.company.add", {"fields": {"TITLE": "Acme"}})
    return portal


def test_comment_add_answers_a_bare_int(portal: Portal) -> None:
    comment_id = portal.call(
        "crm.timeline.comment.add",
        {"fields": {"ENTITY_TYPE": "company", "ENTITY_ID": 1, "COMMENT": "Called them"}},
    )
    assert comment_id == 1 and isinstance(comment_id, int)
    assert portal.store.comments() == [
        {
            "id": 1,
            "entityTypeId": 4,
            "entityId": 1,
            "comment": "Called them",
            "authorId": 1,
            "created": "2024-08-15T10:38:21+03:00",
            "files": [],
        }
    ]


def test_comment_errors(portal: Portal) -> None:
    cases: list[tuple[Any, ...]] = [
        ({"FIELDS": {"ENTITY_TYPE": "company", "ENTITY_ID": 1, "COMMENT": "x"}}, "100"),
        ({"fields": {"ENTITY_TYPE": "deal", "ENTITY_ID": 1, "COMMENT": "x"}}, "OWNER_NOT_FOUND"),
        ({"fields": {"ENTITY_TYPE": "dynamic_1046", "ENTITY_ID": 1, "COMMENT": "x"}}, "OWNER_NOT_FOUND"),
        ({"fields": {"ENTITY_TYPE": "company", "ENTITY_ID": 1, "COMMENT": " "}}, "INVALID_ARG_VALUE"),
    ]
    for params, code in cases:
        error = portal.error("crm.timeline.comment.add", params)
        assert (error.code, error.status) == (code, 400)
    assert portal.store.comments() == []


def test_todo_add(portal: Portal) -> None:
    reply = portal.call(
        "crm.activity.todo.add",
        {
            "ownerTypeId": 4,
            "ownerId": 1,
            "title": "Call",
            "deadline": "2024-08-20T12:00:00+02:00",
            "pingOffsets": [0, 15],
        },
    )
    assert reply == {"id": 1}
    activity = portal.store.activities()[0]
    assert activity["deadline"] == "2024-08-20T13:00:00+03:00" and activity["pingOffsets"] == [0, 15]
    assert activity["responsibleId"] == 1


def test_todo_errors(portal: Portal) -> None:
    cases: list[tuple[Any, ...]] = [
        ({"ownerId": 1, "deadline": "2024-08-20T12:00:00"}, "100"),
        ({"ownerTypeId": 4, "ownerId": 1}, "100"),
        ({"ownerTypeId": 2, "ownerId": 1, "deadline": "2024-08-20T12:00:00"}, "OWNER_NOT_FOUND"),
        ({"ownerTypeId": 4, "ownerId": 1, "deadline": "next week"}, "WRONG_DATETIME_FORMAT"),
    ]
    for params, code in cases:
        assert portal.error("crm.activity.todo.add", params).code == code


def test_status_list(portal: Portal) -> None:
    stages = portal.reply(
        "crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}, "order": {"SORT": "ASC"}}
    )
    assert [row["STATUS_ID"] for row in stages.result][:2] == ["NEW", "PREPARATION"]
    assert stages.result[0]["SORT"] == "10" and stages.result[0]["SYSTEM"] == "Y" and stages.total == 8
    industries = portal.call(
        "crm.status.list", {"filter": {"ENTITY_ID": "INDUSTRY"}, "order": {"SORT": "DESC"}}
    )
    assert industries[0]["SORT"] == "110"
    assert portal.call("crm.status.list", {"filter": {"ENTITY_ID": "REGION_EU"}}) == []
    every = portal.reply("crm.status.list", {})
    # 48 rows of the first lists, then EMPLOYEES (4) and HONORIFIC (4)
    assert every.total == 56 and every.next == 50
    assert [row["ENTITY_ID"] for row in every.result][:2] == ["COMPANY_TYPE", "COMPANY_TYPE"]
    page = portal.reply("crm.status.list", {"order": {"ID": "ASC"}, "start": 30})
    assert page.result[0]["ID"] == "1" and len(page.result) == 50
