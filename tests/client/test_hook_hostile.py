"""What a hostile or broken portal can send the client: nothing of it crashes, hangs or leaks."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import requests

from b24sync.client import B24Hook, RetryPolicy
from b24sync.client.transport import decode_answer
from b24sync.errors import Interrupted, OutcomeUnknownError, ProtocolError, TransportError
from tests.helpers.scripted import (
    SECRET,
    WEBHOOK,
    FakeTime,
    ScriptedAdapter,
    batch_ok,
    respond,
    session_with,
)


def hook(adapter: ScriptedAdapter, fake: FakeTime | None = None, **options: Any) -> B24Hook:
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


def write(client: B24Hook) -> Any:
    return client.send_batch(
        {"a": "crm.item.add?entityTypeId=3"}, halt=True, methods={"a": "crm.item.add"}, safe=False
    )


def read(client: B24Hook) -> Any:
    return client.send_batch(
        {"a": "crm.item.list?entityTypeId=3"}, halt=True, methods={"a": "crm.item.list"}, safe=True
    )


@pytest.mark.parametrize("result", ["x", {"result": "x"}, 7, {"result_error": "boom"}, [1]])
def test_a_batch_answer_of_the_wrong_shape_after_a_write_leaves_the_write_unknown(result: object) -> None:
    client = hook(ScriptedAdapter((200, {"result": result})))
    with pytest.raises(OutcomeUnknownError, match="protocol §5") as caught:
        write(client)
    assert caught.value.commands == ("a",)


def test_a_batch_answer_of_the_wrong_shape_for_reads_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not str"):
        read(hook(ScriptedAdapter((200, {"result": {"result": "x"}}))))


@pytest.mark.parametrize(
    "body",
    [
        '{"result": NaN}',
        '{"result": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"result": ' + "9" * 5000 + "}",
    ],
    ids=["nan", "nested-100000", "5000-digits"],
)
def test_json_that_is_no_bitrix24_answer_is_a_transport_error(body: str) -> None:
    def answer(request: requests.PreparedRequest) -> requests.Response:
        return respond(request, 200, body)

    with pytest.raises(TransportError, match="non-JSON body"):
        hook(ScriptedAdapter(answer)).call_method("crm.item.list")


def test_portal_texts_are_redacted_5xx_pages_and_command_errors_alike() -> None:
    echo = f"cannot run /rest/7/{SECRET}/batch"
    client = hook(ScriptedAdapter((503, {"error": "INTERNAL", "error_description": echo})))
    with pytest.raises(OutcomeUnknownError) as caught:
        write(client)
    assert SECRET not in str(caught.value) and "/rest/7/***/batch" in str(caught.value)

    client = hook(ScriptedAdapter(batch_ok(result_error={"a": {"error": "X", "error_description": echo}})))
    reply = write(client)
    assert reply.errors["a"].description == "cannot run /rest/7/***/batch"


def redirect(location: str) -> Any:
    def moved(request: requests.PreparedRequest) -> requests.Response:
        response = respond(request, 302, "")
        response.headers["Location"] = location
        return response

    return moved


@pytest.mark.parametrize(
    ("location", "message"),
    [
        (f"https://evil.example/rest/7/{SECRET}/batch", "outside its own domain"),
        (f"http://new.example.com/rest/7/{SECRET}/batch", "https only"),
        (f"https://me:pw@new.example.com/rest/7/{SECRET}/batch", "user name or password"),
    ],
)
def test_a_redirect_elsewhere_is_not_followed_and_the_code_is_not_resent(location: str, message: str) -> None:
    adapter = ScriptedAdapter(redirect(location))
    with pytest.raises(TransportError, match=message) as caught:
        write(hook(adapter))
    assert len(adapter.sent) == 1
    assert SECRET not in str(caught.value) and "pw" not in str(caught.value)


def test_reads_against_a_hung_portal_give_up_at_the_deadline() -> None:
    fake = FakeTime()
    timeouts: list[Any] = []

    def hung(request: requests.PreparedRequest) -> requests.Response:
        fake.now += 75.0  # the whole read timeout passes without an answer
        raise requests.exceptions.ReadTimeout("read timed out")

    class Recording(ScriptedAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            timeouts.append(kwargs.get("timeout"))
            return super().send(request, **kwargs)

    adapter = Recording(*[hung] * 5)
    start = fake.now
    with pytest.raises(TransportError, match="deadline"):
        hook(adapter, fake, retry=RetryPolicy(deadline=100.0)).call_method("crm.item.list")
    assert len(adapter.sent) == 2
    assert fake.now - start < 100.0 + 75.0
    assert timeouts[1][1] < 75.0  # the second try waits only for what is left


def test_a_stop_during_a_limit_wait_sends_nothing_more() -> None:
    fake = FakeTime()
    stop = {"asked": False}

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        stop["asked"] = True  # the first Ctrl-C arrives while the client waits

    adapter = ScriptedAdapter((503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many"}))
    client = B24Hook.from_webhook_url(
        WEBHOOK,
        session=session_with(adapter),
        clock=fake.monotonic,
        wall_clock=fake.wall,
        sleep=sleep,
        rate_limit=None,
    )
    client.stop_waits_when(lambda: stop["asked"])
    with pytest.raises(Interrupted, match="nothing more was sent"):
        write(client)
    assert len(adapter.sent) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"result": {"item": {"id": 7, "title": "\\u00e9t\\u00e9 \\ud83d\\ude00"}}}',
        b'{"a": 1, "a": 2}',
        b'{"a": ' + b"1" * 4300 + b"}",
        b'{"a": 1.5e-400, "b": 1e400, "c": -0, "d": 1E2}',
        b'\xef\xbb\xbf{"a": 1}',
        '{"a": 1}'.encode("utf-16"),
        b'{"a": "\\ud800"}',
        b"[" * 300 + b"]" * 300,
    ],
    ids=[
        "unicode",
        "duplicate-key",
        "4300-digits",
        "floats",
        "bom",
        "utf-16",
        "lone-surrogate",
        "nested-300",
    ],
)
def test_answers_are_read_as_json_reads_them(body: bytes) -> None:
    # the fast parser gives json's value or leaves the body to json
    assert decode_answer(body) == json.loads(body)


@pytest.mark.parametrize(
    "body", [b"", b'{"a": NaN}', b'{"a": 1} x', b'{"a": "\xff"}', b'{"a": ' + b"9" * 5000 + b"}"]
)
def test_what_json_refuses_the_answer_reader_refuses(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode_answer(body)
