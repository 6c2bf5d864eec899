"""Webhook URLs, the redaction of their secret, and which methods are safe to send twice."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

from b24sync.errors import WebhookUrlError

REDACTED = "***"
_SHAPE = "https://<portal>.bitrix24.com/rest/<user id>/<webhook code>/"
_PATH = re.compile(r"/rest/(?P<user>\d+)/(?P<secret>[^/?#\s]+)/?")
_PATH_WITH_METHOD = re.compile(r"/rest/\d+/[^/?#\s]+/(?P<method>[A-Za-z][\w.]*)/?")


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts allowed over plain http."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Webhook:
    """An inbound webhook: ``<scheme>://<netloc>/rest/<user_id>/<secret>/``."""

    scheme: str
    netloc: str
    user_id: int
    secret: str

    @property
    def base_url(self) -> str:
        """The URL methods are appended to; holds the secret, never print it."""
        return f"{self.scheme}://{self.netloc}/rest/{self.user_id}/{self.secret}/"

    @property
    def redacted_url(self) -> str:
        """The URL with the secret replaced by ``***``: safe to show."""
        return f"{self.scheme}://{self.netloc}/rest/{self.user_id}/{REDACTED}/"

    @property
    def host(self) -> str:
        """The portal's host name."""
        return urlsplit(f"//{self.netloc}").hostname or self.netloc

    def method_url(self, method: str) -> str:
        """The URL of one method."""
        return self.base_url + method

    def moved_to(self, location: str) -> Webhook:
        """The same webhook on the host a 302 ``Location`` names (reference §1.1: portal renamed)."""
        parts = urlsplit(location)
        if not parts.netloc:
            return self
        moved = replace(self, scheme=parts.scheme or self.scheme, netloc=parts.netloc)
        _check_scheme(moved.scheme, moved.host, moved.redacted_url)
        return moved


def _check_scheme(scheme: str, host: str, shown: str) -> None:
    if scheme == "https":
        return
    if scheme == "http" and is_loopback(host):
        return
    if scheme == "http":
        raise WebhookUrlError(
            f"webhook URL {shown} uses http: Bitrix24 webhooks require https "
            "(plain http is accepted only for a local emulator on 127.0.0.1 or localhost)"
        )
    raise WebhookUrlError(f"webhook URL {shown} is not an https URL; it should look like {_SHAPE}")


def parse_webhook_url(url: str) -> Webhook:
    """Parse and check a webhook URL; errors say what one looks like and never show the secret."""
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(text)
        netloc, host = parts.netloc, parts.hostname
    except ValueError:
        netloc, host, parts = "", None, urlsplit("")
    match = _PATH.fullmatch(parts.path) if netloc else None
    if not host or match is None or parts.query or parts.fragment:
        shown = f"{parts.scheme}://{netloc}/..." if netloc else "(not a URL)"
        with_method = _PATH_WITH_METHOD.fullmatch(parts.path) if netloc else None
        if with_method is not None and not parts.fragment:
            # a URL copied from an example call: the secret stays hidden, the method is safe to show
            raise WebhookUrlError(
                f"{shown} ends with the method {with_method['method']!r}: drop it, the webhook URL ends "
                f"after the code ({_SHAPE})"
            )
        raise WebhookUrlError(f"{shown} is not a webhook URL; it should look like {_SHAPE}")
    webhook = Webhook(parts.scheme.lower(), netloc, int(match["user"]), match["secret"])
    _check_scheme(webhook.scheme, host, webhook.redacted_url)
    return webhook


class Redactor:
    """Replaces secrets in any text with ``***``."""

    def __init__(self, *secrets: str) -> None:
        forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text


class RedactingFilter(logging.Filter):
    """A logging filter that removes secrets from records, e.g. urllib3's debug lines with the URL."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# reference §7.4: reads and updates may be repeated after an unknown outcome; adds may not.
_SAFE_METHODS = frozenset(
    {
        "server.time",
        "user.current",
        "profile",
        "scope",
        "methods",
        "method.get",
        "user.get",
        "crm.duplicate.findbycomm",
    }
)
_SAFE_LAST_PARTS = frozenset({"get", "list", "fields"})
# reference §9.5: multifield entries without an ID are appended on update, so repeating adds them twice.
_MULTIFIELDS = frozenset({"fm", "PHONE", "EMAIL", "WEB", "IM", "LINK"})


def _appends_multifields(params: Mapping[str, Any] | None) -> bool:
    fields = next((v for k, v in (params or {}).items() if k.lower() in ("fields", "arfields")), None)
    if not isinstance(fields, Mapping):
        return False
    for name, value in fields.items():
        if name not in _MULTIFIELDS:
            continue
        if name == "fm":
            # crm.item update: an array, or keys n0, n1, ... add entries; numeric keys change them.
            keys = value if isinstance(value, Mapping) else {}
            appends = any(str(k).startswith("n") for k in keys) if keys else bool(value)
        else:
            entries = list(value.values()) if isinstance(value, Mapping) else value
            appends = isinstance(entries, list) and any(
                isinstance(e, Mapping) and not e.get("ID") for e in entries
            )
        if appends:
            return True
    return False


def is_safe_to_repeat(method: str, params: Mapping[str, Any] | None = None) -> bool:
    """True when sending the call twice leaves the portal as sending it once."""
    name = method.lower()
    if name in _SAFE_METHODS:
        return True
    last = name.rsplit(".", 1)[-1]
    if last in _SAFE_LAST_PARTS:
        return True
    if last == "update" or name.endswith(".items.set"):
        return not _appends_multifields(params)
    return False
