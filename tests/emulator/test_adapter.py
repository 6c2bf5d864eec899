"""The in-process adapter, fuzzed: whatever arrives, a JSON answer and never a crash or a trace."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from b24sync.emulator.adapter import EmulatorAdapter
from tests.helpers.emulator_fakes import TOKEN, emulator

EMU = emulator()
SESSION = EMU.mount(requests.Session())
STATUSES = {200, 400, 401, 404, 405, 429, 500, 503}


class Failures(logging.Handler):
    """Collects log records of the emulator core failing (a bug), not of a handler failing."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "failed to answer" in record.getMessage():
            self.messages.append(record.getMessage())


def check(answer: requests.Response) -> Any:
    assert answer.status_code in STATUSES
    assert "Traceback" not in answer.text
    body = json.loads(answer.text)
    assert isinstance(body, dict)
    if answer.status_code == 500:
        assert body == {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
    return body


def fuzz(send: Any) -> None:
    failures = Failures()
    logger = logging.getLogger("b24sync.emulator")
    logger.addHandler(failures)
    try:
        body = check(send())
    finally:
        logger.removeHandler(failures)
    assert failures.messages == []
    if "result" in body and "time" not in body:
        raise AssertionError("a success without time")


PIECES = [
    "fake.echo",
    "fake.add",
    "fake.get",
    "fake.list",
    "fake.boom",
    "fake.null",
    "batch",
    "download",
    "?",
    "&",
    "=",
    "#",
    "[",
    "]",
    "$result",
    "$next",
    "$total",
    "$time",
    "$error",
    "$RESULT",
    "[a]",
    "[0]",
    "[49]",
    "[ID]",
    "id",
    "fields",
    "start",
    "-1",
    " ",
    "+",
    "%",
    "%5B",
    "%24",
    "%00",
    "\n",
    "a",
    "0",
    "é",
    ":",
    "//",
    "a:65536",
    "cmd[x]",
    "halt",
]
command = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8) | command,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
cmd = st.dictionaries(
    st.sampled_from(["a", "b", "0", "1", "c d", "x]"]), command | json_value, max_size=6
) | st.lists(command | json_value, max_size=6)


@settings(max_examples=150, deadline=None)
@given(cmd=cmd, halt=json_value, key=st.sampled_from(["cmd", "CMD", "Cmd"]))
def test_random_json_batches(cmd: Any, halt: Any, key: str) -> None:
    def send() -> requests.Response:
        return SESSION.post(
            EMU.webhook_url + "batch",
            data=json.dumps({key: cmd, "halt": halt}),
            headers={"Content-Type": "application/json"},
        )

    fuzz(send)


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=200) | command.map(str.encode),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xx",
            "multipart/form-data",
            "text/plain",
            "",
            "application/json; charset=utf-8",
        ]
    ),
    method=st.sampled_from(["batch", "fake.echo", "fake.get", "fake.list", "BATCH.json", "nope", ""]),
    query=command,
)
def test_random_bodies_queries_and_types(body: bytes, content_type: str, method: str, query: str) -> None:
    def send() -> requests.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return SESSION.post(f"{EMU.webhook_url}{method}?{query}", data=body, headers=headers)

    fuzz(send)


@settings(max_examples=100, deadline=None)
@given(
    path=st.lists(
        st.sampled_from(
            ["rest", "1", TOKEN, "x", "", "batch", "fake.echo", "%2F", "..", "_emulator", "stats"]
        ),
        max_size=6,
    ).map("/".join),
    verb=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
)
def test_random_paths(path: str, verb: str) -> None:
    def send() -> requests.Response:
        return SESSION.request(verb, "https://emulator.b24sync.invalid/" + path)

    fuzz(send)


def test_the_adapter_reads_every_kind_of_body() -> None:
    emu = emulator()
    adapter = emu.adapter()
    assert isinstance(adapter, EmulatorAdapter)
    session = requests.Session()
    session.mount(emu.base_url, adapter)
    for body in (b'{"a": 1}', '{"a": 1}', iter([b'{"a"', b": 1}"])):
        answer = session.post(
            emu.webhook_url + "fake.echo", data=body, headers={"Content-Type": "application/json"}
        )
        assert answer.json()["result"] == {"a": 1}
        assert answer.reason == "OK" and answer.url.endswith("fake.echo")
