from __future__ import annotations

import logging
import random

import pytest
import requests

from b24sync.bitrix.methods import is_safe_to_repeat
from b24sync.client import B24Hook, RetryPolicy
from b24sync.client.webhook import parse_webhook_url
from b24sync.errors import (
    AuthError,
    MethodNotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    TransportError,
    UsageError,
    WebhookUrlError,
)
from tests.helpers.scripted import (
    SECRET,
    WEBHOOK,
    FakeTime,
    ScriptedAdapter,
    batch_ok,
    ok,
    respond,
    session_with,
)


def hook(adapter: ScriptedAdapter, fake: FakeTime | None = None, **options: object) -> B24Hook:
    fake = fake or FakeTime()
    options.setdefault("rate_limit", None)
    return B24Hook.from_webhook_url(
        WEBHOOK,
        session=session_with(adapter),
        clock=fake.monotonic,
        wall_clock=fake.wall,
        sleep=fake.sleep,
        rng=random.Random(1),
        **options,
    )


# -- webhook URLs ---------------------------------------------------------------------------------


def test_webhook_url_is_parsed_and_shown_redacted() -> None:
    webhook = parse_webhook_url("https://Portal.example.com/rest/7/abcDEF123/")
    assert (webhook.host, webhook.user_id, webhook.secret) == ("portal.example.com", 7, "abcDEF123")
    assert webhook.redacted_url == "https://Portal.example.com/rest/7/***/"
    assert (
        parse_webhook_url("http://127.0.0.1:8024/rest/1/tok").base_url == "http://127.0.0.1:8024/rest/1/tok/"
    )
    assert parse_webhook_url("http://localhost/rest/1/tok/").scheme == "http"
    assert parse_webhook_url("http://[::1]:9/rest/1/tok/").host == "::1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://portal.example.com/rest/1/s3cr3tC0de42/", "require https"),
        ("ftp://portal.example.com/rest/1/s3cr3tC0de42/", "not an https URL"),
        ("https://portal.example.com/rest/s3cr3tC0de42/", "is not a webhook URL"),
        ("https://portal.example.com/s3cr3tC0de42", "is not a webhook URL"),
        ("portal.example.com/rest/1/s3cr3tC0de42/", "is not a webhook URL"),
        ("https://portal.example.com/rest/1/s3cr3tC0de42/?x=1", "is not a webhook URL"),
        ("", "is not a webhook URL"),
    ],
)
def test_bad_webhook_urls_say_what_a_webhook_looks_like_without_the_secret(url: str, message: str) -> None:
    with pytest.raises(WebhookUrlError, match=message) as caught:
        B24Hook.from_webhook_url(url)
    text = str(caught.value)
    assert SECRET not in text
    assert "/rest/<user id>/<webhook code>/" in text or "require https" in text


def test_repr_and_properties_never_show_the_secret() -> None:
    client = hook(ScriptedAdapter())
    assert SECRET not in repr(client)
    assert repr(client) == "B24Hook(https://portal.example.com/rest/7/***/)"
    assert client.host == "portal.example.com"


# -- call_method ----------------------------------------------------------------------------------


def test_call_method_posts_json_and_reads_total_and_next() -> None:
    adapter = ScriptedAdapter(ok([{"ID": "1"}], total=120, next=50))
    result = hook(adapter).call_method("crm.contact.list", {"filter": {">ID": 0}, "start": 0})
    assert adapter.paths() == [f"/rest/7/{SECRET}/crm.contact.list"]
    assert adapter.payload() == {"filter": {">ID": 0}, "start": 0}
    assert result.is_success and result.get_data() == [{"ID": "1"}]
    assert (result.get_total(), result.get_next(), result.is_more()) == (120, 50, True)


def test_method_level_error_is_data_not_an_exception() -> None:
    adapter = ScriptedAdapter((400, {"error": "NOT_FOUND", "error_description": "Element not found"}))
    result = hook(adapter).call_method("crm.item.get", {"entityTypeId": 3, "id": 999})
    assert not result.is_success
    assert result.get_error_messages() == ["NOT_FOUND: Element not found"]
    assert result.status == 400


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "INVALID_CREDENTIALS", AuthError),
        (401, "NO_AUTH_FOUND", AuthError),
        (403, "insufficient_scope", AuthError),
        (404, "ERROR_METHOD_NOT_FOUND", MethodNotFoundError),
        (503, "OVERLOAD_LIMIT", RateLimitError),
    ],
)
def test_hard_errors_raise_typed_exceptions_and_are_not_retried(
    status: int, code: str, error: type[Exception]
) -> None:
    adapter = ScriptedAdapter((status, {"error": code, "error_description": "no"}))
    with pytest.raises(error) as caught:
        hook(adapter).call_method("crm.item.list", {})
    assert len(adapter.sent) == 1
    assert caught.value.code == code  # type: ignore[attr-defined]


# -- call_batch: shapes, halt, maps ------------------------------------------------------------------


def test_call_batch_with_named_commands_in_both_forms() -> None:
    adapter = ScriptedAdapter(
        batch_ok({"ServerTime": "2024-08-05T09:02:13+00:00", "UserProfile": {"ID": "1"}})
    )
    result = hook(adapter).call_batch(
        {"ServerTime": {"method": "server.time"}, "UserProfile": ["user.current", {}]}
    )
    assert adapter.paths() == [f"/rest/7/{SECRET}/batch"]
    assert adapter.payload() == {
        "halt": 1,
        "cmd": {"ServerTime": "server.time?", "UserProfile": "user.current?"},
    }
    assert result.is_success
    assert result.get_data() == {"ServerTime": "2024-08-05T09:02:13+00:00", "UserProfile": {"ID": "1"}}


def test_call_batch_with_a_list_sends_a_list_and_returns_a_list() -> None:
    # protocol §5.3: keys 0..n-1 come back as JSON lists
    adapter = ScriptedAdapter(batch_ok([{"item": {"id": 1}}, {"item": {"id": 2}}]))
    result = hook(adapter).call_batch(
        [
            ["crm.item.add", {"entityTypeId": 3, "fields": {"name": "Ann"}}],
            {
                "method": "crm.item.add",
                "params": {"entityTypeId": 3, "fields": {"name": "$result[0][item][id]"}},
            },
        ],
        halt_on_error=False,
    )
    assert adapter.payload() == {
        "halt": 0,
        "cmd": [
            "crm.item.add?entityTypeId=3&fields%5Bname%5D=Ann",
            "crm.item.add?entityTypeId=3&fields%5Bname%5D=%24result%5B0%5D%5Bitem%5D%5Bid%5D",
        ],
    }
    assert result.get_data() == [{"item": {"id": 1}}, {"item": {"id": 2}}]


def test_halt_reports_the_failure_and_the_commands_never_reached() -> None:
    # protocol §5.4: with halt=1 the failing command is in result_error and later ones are absent
    adapter = ScriptedAdapter(batch_ok({"a": 1}, {"b": {"error": "", "error_description": "Access denied."}}))
    result = hook(adapter).call_batch(
        {"a": ["crm.contact.add", {}], "b": ["crm.deal.add", {}], "c": ["crm.deal.add", {}]}
    )
    assert not result.is_success
    assert result.get_data() == {"a": 1}
    assert list(result.get_errors()) == ["b"]
    assert result.not_executed == ["c"]
    assert result.get_error_messages() == [
        "[b] error: Access denied.",
        "[c] not executed: the batch halted after b failed",
    ]


def test_halt_off_collects_every_error_by_key_from_a_list_shaped_map() -> None:
    adapter = ScriptedAdapter(batch_ok([1, 2], {"2": {"error": "ERROR_CORE", "error_description": "bad"}}))
    result = hook(adapter).call_batch(
        [["crm.lead.add", {}], ["crm.lead.add", {}], ["crm.lead.add", {}]], halt_on_error=False
    )
    assert result.get_data() == [1, 2, None]
    assert {k: str(e) for k, e in result.get_errors().items()} == {"2": "ERROR_CORE: bad"}
    assert result.not_executed == []


def test_return_ajax_result_gives_each_command_its_own_result() -> None:
    adapter = ScriptedAdapter(
        batch_ok({"l": [{"ID": "1"}]}, total={"l": 75}, nexts={"l": 50}, times={"l": {"duration": 0.2}})
    )
    result = hook(adapter).call_batch({"l": ["crm.deal.list", {}]}, return_ajax_result=True)
    ajax = result.get_data()["l"]
    assert (ajax.get_data(), ajax.get_total(), ajax.get_next(), ajax.time) == (
        [{"ID": "1"}],
        75,
        50,
        {"duration": 0.2},
    )


@pytest.mark.parametrize(
    "calls",
    [
        [],
        {},
        "server.time",
        [["server.time", "x"]],
        {"a b": ["server.time"]},
        [[]],
        [{"method": "x", "param": {}}],
    ],
)
def test_malformed_calls_are_refused_before_sending(calls: object) -> None:
    adapter = ScriptedAdapter()
    with pytest.raises(UsageError):
        hook(adapter).call_batch(calls)
    assert adapter.sent == []


def test_more_than_50_commands_is_refused_before_sending() -> None:
    adapter = ScriptedAdapter()
    with pytest.raises(UsageError, match=r"at most 50.*call_batch_by_chunk"):
        hook(adapter).call_batch([["server.time"]] * 51)
    assert adapter.sent == []


def test_call_batch_by_chunk_sends_chunks_of_50_and_merges() -> None:
    adapter = ScriptedAdapter(batch_ok(list(range(50))), batch_ok(list(range(50, 70))))
    result = hook(adapter).call_batch_by_chunk([["crm.lead.add", {"n": i}] for i in range(70)])
    assert [len(adapter.payload(i)["cmd"]) for i in range(2)] == [50, 20]
    assert result.get_data() == list(range(70))


def test_call_batch_by_chunk_stops_after_a_halting_chunk() -> None:
    adapter = ScriptedAdapter(batch_ok({"c0": 1}, {"c1": {"error": "X", "error_description": "y"}}))
    calls = {f"c{i}": ["crm.lead.add", {}] for i in range(60)}
    result = hook(adapter).call_batch_by_chunk(calls)
    assert len(adapter.sent) == 1
    assert len(result.not_executed) == 58 and result.not_executed[-1] == "c59"


# -- limits ---------------------------------------------------------------------------------------


def test_the_leaky_bucket_sends_the_burst_then_the_drain_rate() -> None:
    fake = FakeTime()
    adapter = ScriptedAdapter(*[ok("t")] * 60)
    client = hook(adapter, fake, rate_limit="standard")
    for _ in range(60):
        client.call_method("server.time")
    # one request of headroom below the portal's burst of 50, then one request per 1/rate seconds
    assert fake.sleeps == pytest.approx([0.5] * 11)
    assert client.stats.waited == pytest.approx(5.5)


def test_query_limit_exceeded_is_waited_out_and_resent() -> None:
    fake = FakeTime()
    adapter = ScriptedAdapter(
        (503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}), ok("2024-01-01")
    )
    client = hook(adapter, fake, rate_limit="standard")
    assert client.call_method("crm.lead.add", {"fields": {}}).get_data() == "2024-01-01"
    assert len(adapter.sent) == 2
    assert fake.sleeps and fake.sleeps[0] >= 1.5
    assert client.stats.retries == 1


def test_query_limit_that_never_clears_becomes_a_rate_limit_error() -> None:
    limited = (503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
    adapter = ScriptedAdapter(*[limited] * 3)
    with pytest.raises(RateLimitError):
        hook(adapter, retry=RetryPolicy(limit_attempts=2)).call_method("server.time")
    assert len(adapter.sent) == 3


def test_operation_time_limit_waits_until_the_reported_reset() -> None:
    fake = FakeTime()
    reset_at = fake.now + 42
    adapter = ScriptedAdapter(
        ok([], time={"operating": 100, "operating_reset_at": reset_at}),
        (429, {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked"}),
        ok([]),
    )
    client = hook(adapter, fake)
    client.call_method("crm.deal.list")
    client.call_method("crm.deal.list")
    assert fake.sleeps == pytest.approx([43.0])


def test_operation_time_limit_without_a_known_reset_waits_ten_seconds() -> None:
    fake = FakeTime()
    adapter = ScriptedAdapter(
        (429, {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"}), ok([])
    )
    hook(adapter, fake).call_method("crm.deal.list")
    assert fake.sleeps == pytest.approx([10.0])


def test_a_method_near_its_operating_budget_is_paused_before_sending() -> None:
    fake = FakeTime()
    # within a second of the limit: the next call waits for the oldest basket (client.pacing)
    adapter = ScriptedAdapter(ok([], time={"operating": 479.5, "operating_reset_at": fake.now + 30}), ok([]))
    client = hook(adapter, fake)
    client.call_method("crm.deal.list")
    client.call_method("crm.deal.list")
    assert fake.sleeps == pytest.approx([31.0])


def test_limit_errors_inside_a_batch_are_retried_for_those_commands_only() -> None:
    fake = FakeTime()
    adapter = ScriptedAdapter(
        batch_ok({"a": 1}, {"b": {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"}}),
        batch_ok({"b": 2, "c": 3}),
    )
    result = hook(adapter, fake).call_batch(
        {"a": ["crm.lead.add", {}], "b": ["crm.deal.add", {}], "c": ["crm.deal.add", {}]}
    )
    assert list(adapter.payload(1)["cmd"]) == ["b", "c"]
    assert result.is_success and result.get_data() == {"a": 1, "b": 2, "c": 3}
    assert fake.sleeps == pytest.approx([10.0])


def test_a_limited_command_that_reads_an_earlier_result_is_not_resent_alone() -> None:
    # protocol §4.3 rule 4: references never cross requests, so "b" alone would read garbage
    adapter = ScriptedAdapter(
        batch_ok({"a": 1}, {"b": {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many"}})
    )
    result = hook(adapter).call_batch(
        {"a": ["crm.lead.add", {}], "b": ["crm.deal.add", {"fields": {"LEAD_ID": "$result[a]"}}]}
    )
    assert len(adapter.sent) == 1
    assert list(result.get_errors()) == ["b"]


# -- unknown outcomes and retries ---------------------------------------------------------------


def test_a_lost_answer_to_writes_is_never_resent() -> None:
    adapter = ScriptedAdapter(requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(OutcomeUnknownError) as caught:
        hook(adapter).call_batch({"c1": ["crm.contact.add", {}], "l": ["crm.deal.list", {}]})
    assert caught.value.commands == ("c1", "l")
    assert "not sent again" in str(caught.value)
    assert len(adapter.sent) == 1


def test_a_5xx_answer_to_writes_is_an_unknown_outcome() -> None:
    adapter = ScriptedAdapter(lambda r: respond(r, 502, "<html>Bad gateway</html>", "text/html"))
    with pytest.raises(OutcomeUnknownError, match="HTTP 502"):
        hook(adapter).call_method("crm.item.add", {"entityTypeId": 3, "fields": {}})
    assert len(adapter.sent) == 1


def test_reads_and_updates_are_retried_after_5xx_and_dropped_connections() -> None:
    fake = FakeTime()
    adapter = ScriptedAdapter(
        (500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "oops"}),
        requests.exceptions.ConnectionError("Connection aborted. RemoteDisconnected"),
        batch_ok({"u": {"item": {"id": 1}}, "g": {"item": {"id": 1}}}),
    )
    client = hook(adapter, fake)
    result = client.call_batch(
        {
            "u": ["crm.item.update", {"entityTypeId": 3, "id": 1, "fields": {"name": "x"}}],
            "g": ["crm.item.get", {"entityTypeId": 3, "id": 1}],
        }
    )
    assert result.is_success and len(adapter.sent) == 3
    assert client.stats.retries == 2
    assert 0.9 <= fake.sleeps[0] <= 1.1 and 1.8 <= fake.sleeps[1] <= 2.2


def test_safe_retries_are_bounded() -> None:
    adapter = ScriptedAdapter(*[(500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "x"})] * 3)
    with pytest.raises(ServerError):
        hook(adapter, retry=RetryPolicy(attempts=2)).call_method("crm.deal.list")
    assert len(adapter.sent) == 3


def test_portal_rename_redirect_is_followed_with_the_same_request() -> None:
    def moved(request: requests.PreparedRequest) -> requests.Response:
        response = respond(request, 302, "")
        response.headers["Location"] = f"https://new.example.com/rest/7/{SECRET}/crm.deal.list"
        return response

    adapter = ScriptedAdapter(moved, ok([]))
    client = hook(adapter)
    client.call_method("crm.deal.list", {"start": 0})
    assert adapter.sent[1].url == f"https://new.example.com/rest/7/{SECRET}/crm.deal.list"
    assert adapter.sent[1].method == "POST" and adapter.payload(1) == {"start": 0}
    assert client.host == "new.example.com"


@pytest.mark.parametrize(
    ("method", "params", "safe"),
    [
        ("crm.item.list", None, True),
        ("crm.item.get", None, True),
        ("crm.item.fields", None, True),
        ("server.time", None, True),
        ("user.current", None, True),
        ("crm.duplicate.findbycomm", None, True),
        ("crm.item.update", {"fields": {"title": "x"}}, True),
        ("crm.deal.contact.items.set", {"items": []}, True),
        ("crm.item.add", None, False),
        ("crm.contact.add", None, False),
        ("tasks.task.add", None, False),
        ("crm.item.delete", None, False),
        ("crm.timeline.comment.add", None, False),
        ("unknown.m", None, False),
        # protocol §9.5: multifield entries without an ID are appended on update
        ("crm.item.update", {"fields": {"fm": [{"typeId": "PHONE", "value": "1"}]}}, False),
        ("crm.item.update", {"fields": {"fm": {"n0": {"typeId": "PHONE", "value": "1"}}}}, False),
        ("crm.item.update", {"fields": {"fm": {"881": {"typeId": "PHONE", "value": "1"}}}}, True),
        ("crm.contact.update", {"fields": {"PHONE": [{"VALUE": "1"}]}}, False),
        ("crm.contact.update", {"FIELDS": {"PHONE": [{"ID": "5", "VALUE": "1"}]}}, True),
    ],
)
def test_which_calls_are_safe_to_repeat(method: str, params: dict[str, object] | None, safe: bool) -> None:
    assert is_safe_to_repeat(method, params) is safe


def test_the_secret_is_redacted_from_transport_errors_and_debug_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = ScriptedAdapter(
        *[
            requests.exceptions.ConnectionError(
                f"HTTPSConnectionPool(host='portal.example.com', port=443): Max retries exceeded with url: "
                f"/rest/7/{SECRET}/batch (Caused by NewConnectionError('refused'))"
            )
        ]
        * 5
    )
    client = hook(adapter, retry=RetryPolicy(attempts=2))
    with pytest.raises(TransportError) as caught:
        client.call_method("crm.item.add", {})
    # one clean phrase of cause, never urllib3's text (which holds the URL, code and all)
    assert SECRET not in str(caught.value) and "could not reach portal.example.com" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert SECRET not in caplog.text
    # refused connections were never sent, so even a write is retried
    assert len(adapter.sent) == 3
