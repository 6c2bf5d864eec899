"""tasks.task.* against protocol §9.7, §10.1 and U17."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_add_takes_upper_fields_and_answers_camel_case_strings(portal: Portal) -> None:
    task = portal.call(
        "tasks.task.add",
        {
            "fields": {
                "TITLE": "Call back",
                "RESPONSIBLE_ID": 2,
                "PRIORITY": 2,
                "DEADLINE": "2025-12-31T23:59:59",
                "AUDITORS": [3],
                "UF_CRM_TASK": ["D_12", "C_7"],
                "NO_SUCH": 1,
            }
        },
    )["task"]
    assert task["id"] == "1" and task["title"] == "Call back"
    assert (task["responsibleId"], task["createdBy"]) == ("2", "1")
    assert (task["priority"], task["status"]) == ("2", "2")
    assert task["groupId"] == "0" and task["auditors"] == ["3"] and task["accomplices"] == []
    # input without an offset is read in the portal's zone
    assert task["deadline"] == "2025-12-31T23:59:59+03:00"
    assert task["createdDate"] == "2024-08-15T10:38:21+03:00"
    assert task["ufCrmTask"] == ["D_12", "C_7"]
    assert task["responsible"]["id"] == "2"


def test_add_without_bindings_answers_false(portal: Portal) -> None:
    task = portal.call("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 1}})["task"]
    assert task["ufCrmTask"] is False


def test_required_fields_give_error_core(portal: Portal) -> None:
    cases: list[tuple[Any, ...]] = [
        ({"fields": {"RESPONSIBLE_ID": 1}}, "ERROR_CORE", "Task title is not specified<br>"),
        ({"fields": {"TITLE": "x"}}, "ERROR_CORE", "Responsible person is not specified<br>"),
        ({"fields": {"TITLE": "x", "RESPONSIBLE_ID": 99}}, "ERROR_CORE", "Responsible person not found<br>"),
        ({}, "100", "Could not find value for parameter {fields}"),
    ]
    for params, code, text in cases:
        error = portal.error("tasks.task.add", params)
        assert (error.code, error.description, error.status) == (code, text, 400)
    assert portal.store.tasks() == []


def test_get_returns_bindings_only_when_selected(portal: Portal) -> None:
    portal.call("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 1, "UF_CRM_TASK": ["D_1"]}})
    assert "ufCrmTask" not in portal.call("tasks.task.get", {"taskId": 1})["task"]
    task = portal.call("tasks.task.get", {"taskId": 1, "select": ["ID", "TITLE", "UF_CRM_TASK"]})["task"]
    assert task == {"id": "1", "title": "x", "ufCrmTask": ["D_1"]}


def test_update_and_delete(portal: Portal) -> None:
    portal.call("tasks.task.add", {"fields": {"TITLE": "x", "RESPONSIBLE_ID": 1}})
    portal.now += 3600
    task = portal.call("tasks.task.update", {"taskId": 1, "fields": {"STATUS": 5, "TITLE": "y"}})["task"]
    assert (task["title"], task["status"], task["closedDate"]) == ("y", "5", "2024-08-15T11:38:21+03:00")
    assert task["changedDate"] == "2024-08-15T11:38:21+03:00"
    error = portal.error("tasks.task.update", {"taskId": 1, "fields": {"TITLE": ""}})
    assert error.description == "Task title is not specified<br>"
    assert portal.call("tasks.task.delete", {"taskId": 1}) == {"task": True}
    assert portal.error("tasks.task.get", {"taskId": 1}).code == "ERROR_CORE"


def test_list_filters_bindings_and_defaults_to_id_descending(portal: Portal) -> None:
    for index in range(60):
        portal.call(
            "tasks.task.add",
            {
                "fields": {
                    "TITLE": f"T{index + 1}",
                    "RESPONSIBLE_ID": 1 + index % 3,
                    "UF_CRM_TASK": [f"D_{index % 4}"],
                }
            },
        )
    page = portal.reply("tasks.task.list", {"select": ["ID"]})
    assert [task["id"] for task in page.result["tasks"][:2]] == ["60", "59"]
    assert (page.total, page.next) == (60, 50)
    bound = portal.call(
        "tasks.task.list",
        {
            "filter": {"UF_CRM_TASK": "D_2", "RESPONSIBLE_ID": 2},
            "order": {"ID": "ASC"},
            "select": ["ID", "UF_CRM_TASK"],
        },
    )
    assert bound["tasks"][:2] == [{"id": "11", "ufCrmTask": ["D_2"]}, {"id": "23", "ufCrmTask": ["D_2"]}]
    offset = portal.reply("tasks.task.list", {"order": {"ID": "ASC"}, "select": ["ID"], "start": 7})
    assert offset.result["tasks"][0]["id"] == "8" and offset.next == 57
    keyset = portal.reply(
        "tasks.task.list",
        {"order": {"ID": "ASC"}, "filter": {">ID": 55}, "start": -1, "select": ["ID", "TITLE"]},
    )
    assert [task["title"] for task in keyset.result["tasks"]] == ["T56", "T57", "T58", "T59", "T60"]
    assert (keyset.total, keyset.next) == (0, None)
    assert all("ufCrmTask" not in task for task in keyset.result["tasks"])


def test_list_title_filter_takes_a_pattern(portal: Portal) -> None:
    for title in ("Call Ann", "Mail Ann", "Call Bob"):
        portal.call("tasks.task.add", {"fields": {"TITLE": title, "RESPONSIBLE_ID": 1}})

    def titles(filter_: dict[str, str]) -> list[str]:
        tasks = portal.call(
            "tasks.task.list", {"filter": filter_, "order": {"ID": "ASC"}, "select": ["TITLE"]}
        )
        return [task["title"] for task in tasks["tasks"]]

    assert titles({"TITLE": "Call%"}) == ["Call Ann", "Call Bob"]
    assert titles({"%TITLE": "ann"}) == ["Call Ann", "Mail Ann"]
    assert titles({"TITLE": "Call Bob"}) == ["Call Bob"]


def test_list_unknown_order_key_is_an_error(portal: Portal) -> None:
    error = portal.error("tasks.task.list", {"order": {"NOPE": "asc"}})
    assert (error.code, error.description) == ("0", "Invalid sorting key (internal error)")
