"""A pytest plugin for the peer suite: sends the SDK's requests for the fake portal domain to the emulator.

The SDK builds ``https://<B24_DOMAIN>/rest/...`` and its test configuration accepts only a domain
name without a port, so the runner gives it a made-up domain and this plugin rewrites that prefix
to the emulator's ``https://127.0.0.1:<port>``; the certificate is checked against the file in
``B24SYNC_PEER_CA`` when set, not checked otherwise (the emulator's certificate is self-signed).
"""

from __future__ import annotations

import os
from typing import Any

import requests.sessions

_DOMAIN = os.environ.get("B24_DOMAIN", "")
_TARGET = os.environ.get("B24SYNC_PEER_URL", "").rstrip("/")
_CA = os.environ.get("B24SYNC_PEER_CA") or False
_original = requests.sessions.Session.request


def _redirected(self: requests.sessions.Session, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
    prefix = f"https://{_DOMAIN}/"
    if _DOMAIN and _TARGET and isinstance(url, str) and url.startswith(prefix):
        url = f"{_TARGET}/{url[len(prefix) :]}"
        kwargs["verify"] = _CA
    return _original(self, method, url, *args, **kwargs)


setattr(requests.sessions.Session, "request", _redirected)  # noqa: B010  (mypy refuses the assignment)
