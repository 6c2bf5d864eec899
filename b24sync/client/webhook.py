"""Webhook URLs: parsing, checking, and the forms that are safe to show."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from b24sync.bitrix.hosts import is_cloud_host
from b24sync.client.redaction import REDACTED
from b24sync.errors import WebhookUrlError

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
    """An inbound webhook: ``<scheme>://<netloc>/rest/<user_id>/<secret>/``.

    ``allow_http`` lets a self-hosted portal be reached over plain http (never a cloud portal); it
    holds for the hosts a redirect moves the webhook to as well.
    """

    scheme: str
    netloc: str
    user_id: int
    secret: str
    allow_http: bool = False

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
        """The same webhook on the host a 302 ``Location`` names (protocol §1.1: portal renamed)."""
        parts = urlsplit(location)
        if not parts.netloc:
            return self
        moved = replace(self, scheme=parts.scheme or self.scheme, netloc=parts.netloc)
        _check_scheme(moved.scheme, moved.host, moved.redacted_url, self.allow_http)
        return moved


def _check_scheme(scheme: str, host: str, shown: str, allow_http: bool) -> None:
    if scheme == "https":
        return
    if scheme == "http" and is_loopback(host):
        return
    if scheme == "http" and allow_http and is_cloud_host(host):
        raise WebhookUrlError(
            f"webhook URL {shown} uses http, but {host} is a Bitrix24 cloud portal and those answer "
            "only https (protocol §1.1): use https; allowing http is for self-hosted portals"
        )
    if scheme == "http" and allow_http:
        return
    if scheme == "http" and is_cloud_host(host):
        raise WebhookUrlError(
            f"webhook URL {shown} uses http: Bitrix24 webhooks require https "
            "(plain http is accepted only for a local emulator on 127.0.0.1 or localhost)"
        )
    if scheme == "http":
        raise WebhookUrlError(
            f"webhook URL {shown} uses http: Bitrix24 webhooks require https (plain http is accepted "
            "for a local emulator on 127.0.0.1 or localhost, and for a self-hosted portal with --allow-http)"
        )
    raise WebhookUrlError(f"webhook URL {shown} is not an https URL; it should look like {_SHAPE}")


def parse_webhook_url(url: str, *, allow_http: bool = False) -> Webhook:
    """Parse and check a webhook URL; errors say what one looks like and never show the secret.

    ``allow_http`` accepts plain http for a self-hosted portal; a Bitrix24 cloud host is refused anyway.
    """
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
    webhook = Webhook(parts.scheme.lower(), netloc, int(match["user"]), match["secret"], allow_http)
    _check_scheme(webhook.scheme, host, webhook.redacted_url, allow_http)
    return webhook
