"""user.fields, user.add, user.update, user.search, user.admin, user.access (protocol §9.1)."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_a_user_added_is_found_updated_and_searched(portal: Portal) -> None:
    user_id = portal.call(
        "user.add",
        {"fields": {"NAME": "Dee", "LAST_NAME": "Moss", "EMAIL": "dee@x.org", "UF_DEPARTMENT": [2]}},
    )
    assert isinstance(user_id, int)
    (found,) = portal.call("user.get", {"filter": {"ID": user_id}})
    assert (found["NAME"], found["EMAIL"], found["UF_DEPARTMENT"]) == ("Dee", "dee@x.org", [2])
    update = {"ID": user_id, "ACTIVE": "N", "WORK_POSITION": "Chef", "PERSONAL_BIRTHDAY": "2001-11-11"}
    assert portal.call("user.update", {"fields": update}) is True
    (searched,) = portal.call("user.search", {"filter": {"FIND": "chef"}})
    assert searched["ACTIVE"] is False and searched["PERSONAL_BIRTHDAY"].startswith("2001-11-11")
    assert portal.error("user.add", {"fields": {"EMAIL": "DEE@x.org"}}).code == "ERROR_CORE"


def test_current_user_has_the_fields_a_portal_lists(portal: Portal) -> None:
    user = portal.call("user.current")
    for name in (
        "XML_ID",
        "LAST_LOGIN",
        "TIMESTAMP_X",
        "LAST_ACTIVITY_DATE",
        "PERSONAL_BIRTHDAY",
        "UF_EMPLOYMENT_DATE",
    ):
        assert isinstance(user[name], str), name
    assert set(portal.call("user.fields")) >= set(user) - {"ID"}


def test_admin_and_access(portal: Portal) -> None:
    assert portal.call("user.admin") is True
    assert portal.call("user.access", {"ACCESS": ["G1"]}) is True
    portal.user_id = 2
    assert portal.call("user.admin") is False
    assert portal.call("user.access", {"ACCESS": ["G1"]}) is False
    assert portal.call("user.access", {"ACCESS": ["AU"]}) is True
    assert portal.error("user.add", {"fields": {"EMAIL": "x@y.z"}}).code == "ACCESS_DENIED"


def test_tasks_describe_their_fields(portal: Portal) -> None:
    fields = portal.call("tasks.task.getFields")["fields"]
    assert fields["TITLE"] == {"title": "title", "type": "string", "required": True}
    assert fields["ID"]["primary"] is True and fields["PRIORITY"]["values"] == {
        "2": "High",
        "1": "Medium",
        "0": "Low",
    }
