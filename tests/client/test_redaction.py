"""The webhook secret never leaks, whatever a real server on loopback does to the connection."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from b24sync.client import B24Hook, RetryPolicy
from b24sync.errors import B24SyncError, OutcomeUnknownError, TransportError

SECRET = "hUsh0nlyF0rMe"


def serve_once(behaviour: Callable[[socket.socket], None]) -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def loop() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.recv(65536)
            behaviour(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    listener.close()


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def html(conn: socket.socket) -> None:
    body = f"<html><body>Bad gateway for /rest/1/{SECRET}/</body></html>".encode()
    conn.sendall(
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    conn.close()


def html_200(conn: socket.socket) -> None:
    body = b"<html>login page</html>"
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    conn.close()


held: list[socket.socket] = []


def silent(conn: socket.socket) -> None:
    held.append(conn)  # keep it open and never answer


@pytest.fixture(params=["refuse", "reset", "timeout", "html", "html_200"])
def broken_portal(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    if request.param == "refuse":
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        yield request.param, f"http://127.0.0.1:{port}/rest/1/{SECRET}/"
        return
    behaviour = {"reset": reset, "timeout": silent, "html": html, "html_200": html_200}[request.param]
    for port in serve_once(behaviour):
        yield request.param, f"http://127.0.0.1:{port}/rest/1/{SECRET}/"
    for conn in held:
        conn.close()
    held.clear()


@pytest.mark.parametrize("method", ["crm.item.add", "crm.item.list"])
def test_no_secret_in_errors_or_logs(
    broken_portal: tuple[str, str], method: str, caplog: pytest.LogCaptureFixture
) -> None:
    kind, url = broken_portal
    caplog.set_level(logging.DEBUG)
    client = B24Hook.from_webhook_url(
        url, timeout=(0.5, 0.3), rate_limit=None, sleep=lambda s: None, retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(B24SyncError) as caught:
        client.call_method(method, {"entityTypeId": 3})
    client.close()
    error = caught.value
    assert isinstance(error, TransportError)
    if kind in ("reset", "timeout", "html") and method == "crm.item.add":
        assert isinstance(error, OutcomeUnknownError)
    for text in (str(error), repr(error), caplog.text, repr(client)):
        assert SECRET not in text
    assert error.__context__ is None or SECRET not in str(error.__context__)
    assert "127.0.0.1" in str(error)


def test_every_form_a_secret_can_take_in_a_text_is_redacted() -> None:
    from b24sync.client.redaction import Redactor

    redact = Redactor('p@ss w/rd"é')
    for shown in (
        'p@ss w/rd"é',
        "p%40ss%20w%2Frd%22%C3%A9",
        "p%40ss%20w/rd%22%C3%A9",
        "p%40ss+w%2Frd%22%C3%A9",
        "p%40ss%20w%2frd%22%c3%a9",
        'p@ss w/rd\\"é',
        'p@ss w/rd\\"\\u00e9',
    ):
        assert redact(f"<{shown}>") == "<***>", shown
    assert redact.data({'k p@ss w/rd"é': ['x p@ss w/rd"é', 1]}) == {"k ***": ["x ***", 1]}
    assert redact.adding(["other"])('other p@ss w/rd"é') == "*** ***"
    assert not Redactor(None, "")


def test_a_secret_holding_a_lone_surrogate_is_still_redacted() -> None:
    from b24sync.client.redaction import Redactor

    assert Redactor("a\ud800b")("x a\ud800b") == "x ***"


def test_a_client_dropped_without_close_stops_redacting_and_one_alive_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a long-lived process makes a client per job; every record of urllib3 and requests is run
    # through each registered redactor, so the ones of clients gone must not pile up
    import gc

    from b24sync.client.redaction import LOG_REDACTION

    gc.collect()  # the clients of earlier tests, dropped without close
    before = len(LOG_REDACTION)
    for n in range(50):
        B24Hook.from_webhook_url(f"https://p{n}.bitrix24.com/rest/1/{SECRET}{n}/", rate_limit=None)
    gc.collect()
    assert len(LOG_REDACTION) == before
    alive = B24Hook.from_webhook_url(f"https://alive.bitrix24.com/rest/1/{SECRET}/", rate_limit=None)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    logging.getLogger("urllib3").debug("POST /rest/1/%s/batch.json", SECRET)
    assert SECRET not in caplog.text and "***" in caplog.text
    alive.close()
    alive.close()  # a second close is harmless
    assert len(LOG_REDACTION) == before
