"""HTTP in, REST call out: encodings, auth, routing and envelopes (protocol §1, §5.6, §6)."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import pytest
import requests

from b24sync.emulator import Emulator, HttpRequest
from tests.helpers.emulator_fakes import METHODS, TOKEN, FakeStore, emulator

EMPTY_MAPS: dict[str, list[object]] = {
    "result": [],
    "result_error": [],
    "result_total": [],
    "result_next": [],
    "result_time": [],
}


@pytest.fixture
def emu() -> Emulator:
    return emulator()


@pytest.fixture
def session(emu: Emulator) -> requests.Session:
    return emu.mount(requests.Session())


def test_webhook_url_and_base_url(emu: Emulator) -> None:
    assert emu.base_url == "https://emulator.b24sync.invalid"
    assert emu.webhook_url == f"https://emulator.b24sync.invalid/rest/1/{TOKEN}/"


def test_post_json_get_and_form_all_reach_the_method(emu: Emulator, session: requests.Session) -> None:
    url = emu.webhook_url + "fake.echo"
    assert session.post(url, json={"fields": {"TITLE": "a&b"}}).json()["result"] == {
        "fields": {"TITLE": "a&b"}
    }
    assert session.get(url, params={"fields[TITLE]": "a b"}).json()["result"] == {"fields": {"TITLE": "a b"}}
    assert session.post(url, data={"fields[TITLE]": "x+y"}).json()["result"] == {"fields": {"TITLE": "x+y"}}


def test_multipart_fields_are_parameters_and_files_are_not(emu: Emulator, session: requests.Session) -> None:
    answer = session.post(
        emu.webhook_url + "fake.echo", data={"fields[NAME]": "Ann"}, files={"upload": ("a.txt", b"content")}
    )
    assert answer.json()["result"] == {"fields": {"NAME": "Ann"}}


def test_query_is_merged_with_the_body_and_the_body_wins(emu: Emulator, session: requests.Session) -> None:
    answer = session.post(emu.webhook_url + "fake.echo?a=1&b=2", json={"b": 3})
    assert answer.json()["result"] == {"a": "1", "b": 3}


@pytest.mark.parametrize("suffix", ["fake.echo.json", "FAKE.Echo", "fake.echo/", "Fake.Echo.JSON/"])
def test_json_suffix_trailing_slash_and_case(emu: Emulator, session: requests.Session, suffix: str) -> None:
    answer = session.post(emu.webhook_url + suffix, json={"x": 1})
    assert answer.status_code == 200
    assert answer.json()["result"] == {"x": 1}


def test_undecodable_json_is_empty_params_and_a_batch_then_succeeds(
    emu: Emulator, session: requests.Session
) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    echo = session.post(emu.webhook_url + "fake.echo?q=1", data=b"{not json", headers=headers)
    assert echo.json()["result"] == {"q": "1"}
    batch = session.post(emu.webhook_url + "batch", data=b"\xff\xfe", headers=headers)
    assert batch.status_code == 200
    assert batch.json()["result"] == EMPTY_MAPS


def test_batch_keys_cmd_and_halt_in_any_case(emu: Emulator, session: requests.Session) -> None:
    answer = session.post(
        emu.webhook_url + "batch", json={"HALT": 1, "Cmd": {"a": "fake.get?id=9", "b": "server.time"}}
    )
    assert answer.status_code == 200
    body = answer.json()["result"]
    assert body["result"] == []
    assert body["result_error"] == {
        "a": {"error": "NOT_FOUND", "error_description": "Not found", "argument": "id"}
    }


def test_the_three_wire_forms_of_one_batch_agree(emu: Emulator, session: requests.Session) -> None:
    command = "fake.echo?fields%5BTITLE%5D=John%26Martin"
    url = emu.webhook_url + "batch"
    as_json = session.post(url, json={"halt": 0, "cmd": {"a": command}}).json()["result"]["result"]
    form_body = "cmd%5Ba%5D=" + quote(command, safe="") + "&halt=0"
    as_form = session.post(url, data=form_body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    as_get = session.get(url + "?" + form_body)
    assert as_json == {"a": {"fields": {"TITLE": "John&Martin"}}}
    assert as_form.json()["result"]["result"] == as_json
    assert as_get.json()["result"]["result"] == as_json


def test_a_body_of_another_type_is_read_as_a_query_string(emu: Emulator, session: requests.Session) -> None:
    answer = session.post(
        emu.webhook_url + "fake.echo", data=b"a[b]=1", headers={"Content-Type": "text/plain"}
    )
    assert answer.json()["result"] == {"a": {"b": "1"}}


def test_success_envelope_lifts_next_and_total_as_ints(emu: Emulator, session: requests.Session) -> None:
    for index in range(60):
        session.post(emu.webhook_url + "fake.add", json={"fields": {"N": index}})
    body = session.post(emu.webhook_url + "fake.list", json={}).json()
    assert list(body) == ["result", "next", "total", "time"]
    assert body["next"] == 50 and body["total"] == 60 and len(body["result"]) == 50
    time_block = body["time"]
    assert {"start", "finish", "duration", "processing", "date_start", "date_finish"} <= set(time_block)
    assert time_block["date_start"].endswith("+00:00")
    last = session.post(emu.webhook_url + "fake.list", json={"start": 50}).json()
    assert "next" not in last and last["total"] == 60


def test_scalar_and_null_results_carry_no_next_or_total(emu: Emulator, session: requests.Session) -> None:
    assert set(session.post(emu.webhook_url + "fake.add", json={}).json()) == {"result", "time"}
    assert session.post(emu.webhook_url + "fake.null", json={}).json()["result"] is None


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/rest/1/wrong-token/fake.echo", 401, "INVALID_CREDENTIALS"),
        ("/rest/2/emulator-token/fake.echo", 401, "INVALID_CREDENTIALS"),
        ("/rest/1//fake.echo", 401, "NO_AUTH_FOUND"),
        ("/rest/fake.echo", 401, "NO_AUTH_FOUND"),
        ("/rest/1/emulator-token/no.such.method", 404, "ERROR_METHOD_NOT_FOUND"),
        ("/rest/1/emulator-token/", 404, "ERROR_METHOD_NOT_FOUND"),
        ("/rest/1/emulator-token/fake.get", 400, "NOT_FOUND"),
    ],
)
def test_whole_request_errors_have_status_and_no_time(
    session: requests.Session, path: str, status: int, code: str
) -> None:
    answer = session.post("https://emulator.b24sync.invalid" + path, json={"id": 404})
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == code
    assert "time" not in body and "result" not in body


def test_unknown_method_text_is_the_portals(emu: Emulator, session: requests.Session) -> None:
    assert session.post(emu.webhook_url + "nope", json={}).json() == {
        "error": "ERROR_METHOD_NOT_FOUND",
        "error_description": "Method not found!",
    }


def test_oauth_style_auth_by_parameter_or_bearer(session: requests.Session) -> None:
    url = "https://emulator.b24sync.invalid/rest/fake.echo"
    assert session.post(url, json={"auth": TOKEN, "x": 1}).json()["result"] == {"x": 1}
    assert session.get(url + f"?access_token={TOKEN}&x=2").json()["result"] == {"x": "2"}
    assert session.post(url, json={"x": 3}, headers={"Authorization": f"Bearer {TOKEN}"}).json()[
        "result"
    ] == {"x": 3}
    wrong = session.post(url, json={"auth": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_token"


def test_plain_http_is_accepted(emu: Emulator) -> None:
    answer = emu.handle(HttpRequest("GET", f"http://127.0.0.1/rest/1/{TOKEN}/server.time"))
    assert answer.status == 200
    assert answer.json()["result"] == "2026-01-01T00:00:00+00:00"


def test_a_handler_bug_is_a_500_json_error_logged_not_a_trace(
    emu: Emulator, session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="b24sync.emulator"):
        answer = session.post(emu.webhook_url + "fake.boom", json={})
        batch = session.post(emu.webhook_url + "batch", json={"cmd": {"a": "fake.boom", "b": "server.time"}})
    assert answer.status_code == 500
    assert answer.json() == {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
    assert "Traceback" not in answer.text
    assert batch.json()["result"]["result_error"]["a"]["error"] == "INTERNAL_SERVER_ERROR"
    assert batch.json()["result"]["result"] == {"b": "2026-01-01T00:00:00+00:00"}
    assert "a bug in a handler" in caplog.text
    assert TOKEN not in caplog.text


def test_results_are_shaped_like_php_arrays(session: requests.Session, emu: Emulator) -> None:
    answer = session.post(emu.webhook_url + "fake.echo", json={"a": {}, "b": {"0": "x", "1": "y"}})
    assert answer.json()["result"] == {"a": [], "b": ["x", "y"]}


def test_stats_count_requests_commands_statuses_and_methods(emu: Emulator, session: requests.Session) -> None:
    session.post(emu.webhook_url + "fake.add", json={})
    session.post(emu.webhook_url + "nope", json={})
    session.post(emu.webhook_url + "batch", json={"cmd": ["fake.add", "fake.echo", "nope"]})
    stats = session.get(emu.base_url + "/_emulator/stats").json()
    assert stats == emu.stats()
    assert stats["requests"] == 3
    assert stats["commands"] == 3
    assert stats["by_status"] == {"200": 2, "404": 1}
    assert stats["by_method"] == {"fake.add": 2, "batch": 1, "fake.echo": 1}
    assert stats["store"] == {"records": 2}


def test_reset_empties_store_and_counters(emu: Emulator, session: requests.Session) -> None:
    session.post(emu.webhook_url + "fake.add", json={})
    assert session.post(emu.base_url + "/_emulator/reset").json() == {"result": True}
    assert emu.stats()["requests"] == 0
    assert emu.store.records == {}
    assert session.get(emu.base_url + "/_emulator/nothing").status_code == 404


def test_an_unknown_path_is_a_json_404(session: requests.Session, emu: Emulator) -> None:
    answer = session.get(emu.base_url + "/index.php")
    assert answer.status_code == 404
    assert json.loads(answer.text)["error"] == "NOT_FOUND"


def test_state_is_saved_atomically_and_loaded(tmp_path: Any) -> None:
    path = tmp_path / "state.json"
    first = emulator(state_path=path)
    first.mount(requests.Session()).post(first.webhook_url + "fake.add", json={"fields": {"A": "1"}})
    first.save_state()
    assert json.loads(path.read_text())["store"] == {"records": {"1": {"A": "1"}}}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    second = emulator(state_path=path)
    assert second.store.records == {"1": {"A": "1"}}


def test_bad_state_files_and_options_are_clear_errors(tmp_path: Any) -> None:
    from b24sync.emulator import EmulatorError

    path = tmp_path / "state.json"
    path.write_text("{oops")
    with pytest.raises(EmulatorError, match="cannot read state file"):
        emulator(state_path=path)
    path.write_text('{"version": 99}')
    with pytest.raises(EmulatorError, match="not an emulator state"):
        emulator(state_path=path)
    with pytest.raises(EmulatorError, match="token"):
        emulator(token="a/b")
    with pytest.raises(EmulatorError, match="rate limit"):
        emulator(rate_limit="fast")
    with pytest.raises(EmulatorError, match="nowhere to save"):
        emulator().save_state()


def test_the_given_store_is_used_as_is() -> None:
    store = FakeStore({"7": {}})
    emu = Emulator(methods=METHODS, store=store, store_factory=FakeStore)
    assert emu.store is store


def test_json_nested_deeper_than_php_allows_is_empty_params(emu: Emulator, session: requests.Session) -> None:
    headers = {"Content-Type": "application/json"}

    def nested(depth: int) -> str:
        return '{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    deep_ok = session.post(emu.webhook_url + "fake.echo", data=nested(512), headers=headers)
    assert deep_ok.status_code == 200 and deep_ok.json()["result"] != []
    too_deep = session.post(emu.webhook_url + "fake.echo?q=1", data=nested(513), headers=headers)
    assert too_deep.json()["result"] == {"q": "1"}
    far_too_deep = session.post(emu.webhook_url + "fake.echo", data=nested(100_000), headers=headers)
    assert far_too_deep.json()["result"] == []


def test_missing_method_handlers_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from b24sync.emulator import EmulatorError

    def missing(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr("b24sync.emulator.state.importlib.import_module", missing)
    with pytest.raises(EmulatorError, match=r"method handlers .* are not available"):
        Emulator()
    with pytest.raises(EmulatorError, match=r"store .* is not available"):
        Emulator(methods=METHODS)


def test_time_dates_use_the_stores_zone_when_it_has_one() -> None:
    class ZonedStore(FakeStore):
        def iso(self, timestamp: float) -> str:
            return f"zoned:{timestamp:.0f}"

    emu = Emulator(
        methods=METHODS,
        store=ZonedStore(),
        store_factory=ZonedStore,
        operating_limit=None,
        wall_clock=lambda: 1_700_000_000.0,
    )
    body = emu.mount(requests.Session()).post(emu.webhook_url + "server.time", json={}).json()
    assert body["time"]["date_start"] == "zoned:1700000000"
    assert (
        emulator().handle(HttpRequest("GET", f"/rest/1/{TOKEN}/server.time")).json()["time"]["date_finish"]
        == "2023-11-14T22:13:20+00:00"
    )
