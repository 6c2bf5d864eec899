"""The client takes proxies and the CA bundle from the environment, as requests does.

It works them out once per URL instead of for every request (``transport.environment_settings``);
what a request is sent with must stay what ``requests.post`` would have used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from b24sync.client import B24Hook

URL = "https://portal.example.com/rest/1/abcdefgh12345678/"


class Recording(HTTPAdapter):
    """Answers every request with an empty batch and keeps what each was sent with."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(kwargs)
        self.requests.append(request)
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        body = {"result": {"result": {"a": 1}, "result_error": [], "result_total": [], "result_next": [],
                           "result_time": []}, "time": {"start": 1.0, "finish": 1.1}}  # fmt: skip
        response._content = json.dumps(body).encode()
        response.request = request
        response.url = request.url or ""
        return response


def _sent_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[dict[str, Any]]:
    for name in (
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    adapter = Recording()
    session = requests.Session()
    session.mount("https://", adapter)
    hook = B24Hook(URL, session=session, rate_limit=None)
    for _ in range(2):
        hook.call_batch({"a": ["crm.item.get", {"entityTypeId": 3, "id": 1}]})
    hook.close()
    return adapter.sent


def test_an_https_proxy_of_the_environment_is_used_for_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _sent_with(monkeypatch, HTTPS_PROXY="http://proxy.internal:3128")
    assert [s["proxies"].get("https") for s in sent] == ["http://proxy.internal:3128"] * 2


def test_no_proxy_keeps_the_portal_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _sent_with(monkeypatch, HTTPS_PROXY="http://proxy.internal:3128", NO_PROXY="portal.example.com")
    assert [s["proxies"].get("https") for s in sent] == [None, None]


def test_the_ca_bundle_of_the_environment_verifies_the_portal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    sent = _sent_with(monkeypatch, REQUESTS_CA_BUNDLE=str(bundle))
    assert [s["verify"] for s in sent] == [str(bundle)] * 2


def test_each_request_carries_its_own_body_and_the_cookies_the_portal_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adapter = Recording()
    session = requests.Session()
    session.mount("https://", adapter)
    hook = B24Hook(URL, session=session, rate_limit=None)
    for n in (1, 2, 3):
        hook.call_batch({"a": ["crm.item.get", {"entityTypeId": 3, "id": n}]})
        # as a portal (or a balancer in front of it) setting a cookie in its first answer does
        session.cookies.set("sticky", "node-2", domain="portal.example.com")
    hook.close()
    bodies = [json.loads(r.body or b"{}")["cmd"]["a"] for r in adapter.requests]
    assert bodies == [f"crm.item.get?entityTypeId=3&id={n}" for n in (1, 2, 3)]
    assert [r.headers.get("Content-Length") for r in adapter.requests] == [
        str(len(r.body or b"")) for r in adapter.requests
    ]
    # the first request had no cookie yet; the later ones send what the portal set, as requests does
    assert [r.headers.get("Cookie") for r in adapter.requests] == [None, "sticky=node-2", "sticky=node-2"]


def test_requests_prepared_side_by_side_keep_their_own_bodies() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from b24sync.client.transport import Route

    for cookies in (False, True):
        session = requests.Session()
        if cookies:
            session.cookies.set("sticky", "node-2", domain="portal.example.com")
        route = Route(session, URL + "batch", {"Content-Type": "application/json"})
        bodies = [f'{{"n": {n}}}'.encode() for n in range(400)]
        with ThreadPoolExecutor(8) as pool:
            prepared = list(pool.map(route.prepare, bodies))
        assert [p.body for p in prepared] == bodies
