"""server.time, profile, user.current, user.get, scope against protocol §9.1 and §10.1."""

from __future__ import annotations

import pytest

from tests.helpers.emulator_portal import FORMS, Portal


@pytest.fixture(params=FORMS)
def portal(request: pytest.FixtureRequest) -> Portal:
    return Portal(request.param)


def test_server_time_uses_the_portal_offset() -> None:
    assert Portal(tz_offset="+02:00").call("server.time") == "2024-08-15T09:38:21+02:00"
    assert Portal().call("server.time") == "2024-08-15T10:38:21+03:00"


def test_profile_and_current_user(portal: Portal) -> None:
    assert portal.call("profile") == {
        "ID": "1",
        "ADMIN": True,
        "NAME": "Admin",
        "LAST_NAME": "Adminov",
        "PERSONAL_GENDER": "",
        "TIME_ZONE": "",
    }
    portal.user_id = 2
    current = portal.call("user.current")
    assert current["ID"] == "2" and current["ACTIVE"] is True and current["UF_DEPARTMENT"] == [1]
    assert current["DATE_REGISTER"] == "2024-01-01T03:00:00+03:00" and "ADMIN" not in current


def test_inactive_user_has_an_empty_profile(portal: Portal) -> None:
    portal.store.users[3]["ACTIVE"] = False
    portal.user_id = 3
    assert portal.call("profile") == {}


def test_user_get_filters_sorts_and_pages(portal: Portal) -> None:
    for index in range(60):
        portal.store.add_user(f"User{index}", "Test", f"u{index}@example.com", department=2 + index % 2)
    first = portal.reply("user.get", {})
    assert first.result[0]["ID"] == "1" and (first.total, first.next) == (63, 50)
    rounded = portal.reply("user.get", {"start": 30})
    assert rounded.result[0]["ID"] == "1" and rounded.next == 50
    found = portal.call("user.get", {"FILTER": {"EMAIL": "anna@example.com"}})
    assert [user["ID"] for user in found] == ["2"]
    by_param = portal.call("user.get", {"ID": 3})
    assert [user["ID"] for user in by_param] == ["3"]
    desc = portal.call("user.get", {"sort": "ID", "order": "DESC", "FILTER": {"UF_DEPARTMENT": 2}})
    assert desc[0]["ID"] == "62" and all(2 in user["UF_DEPARTMENT"] for user in desc)
    search = portal.call("user.get", {"FILTER": {"NAME_SEARCH": "petro"}})
    assert [user["ID"] for user in search] == ["2"]
    active = portal.reply("user.get", {"FILTER": {"ACTIVE": "Y", "<ID": 3}})
    assert [user["ID"] for user in active.result] == ["1", "2"]


def test_user_get_select_masks(portal: Portal) -> None:
    assert portal.call("user.get", {"ID": 2, "select": ["NAME"]}) == [{"ID": "2", "NAME": "Anna"}]
    assert portal.call("user.get", {"ID": 2, "select": ["UF_*"]}) == [
        {"ID": "2", "UF_DEPARTMENT": [1], "UF_EMPLOYMENT_DATE": ""}
    ]
    assert len(portal.call("user.get", {"ID": 2, "select": ["*"]})[0]) > 5


def test_scope(portal: Portal) -> None:
    assert "crm" in portal.call("scope") and "task" in portal.call("scope")
