"""Webhook URLs: parsing, checking, the forms that are safe to show, and where a redirect may lead.

A webhook URL carries the code that is the whole credential, so it is checked before anything runs
with the parser that sends it (urllib3's, through requests): a URL that two parsers would read two
ways (``http://evil.example\\@127.0.0.1/``) is refused, as are userinfo, ports outside 1-65535,
whitespace, control characters and backslashes. ``check_webhook_url`` is the one check; every
caller (the client, the command line, a redirect) goes through it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from b24sync.bitrix.hosts import is_cloud_host, is_cloud_portal, registrable_domain
from b24sync.client.redaction import REDACTED
from b24sync.errors import WebhookUrlError

WEBHOOK_VARIABLE = "B24_WEBHOOK_URL"
"""The environment variable the command line reads the webhook URL from."""

_SHAPE = "https://<portal>.bitrix24.com/rest/<user id>/<webhook code>/"
# The code is made of RFC 3986 unreserved characters, so the path sent is the path checked.
_PATH = re.compile(r"/rest/(?P<user>[0-9]{1,10})/(?P<secret>[A-Za-z0-9._~-]+)/?")
_PATH_WITH_METHOD = re.compile(r"/rest/\d+/[^/?#\s]+/(?P<method>[A-Za-z][\w.]*)/?")
_CODE_IN_TEXT = re.compile(r"/rest/\d+/([^/?#\s\\]+)")
_LABEL = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
# Anything a URL must not hold raw: whitespace, controls (NUL included), backslashes, and what
# some parsers cut at while others keep.
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f\\<>\"'`{}|^]")


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts allowed over plain http."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_code(url: object) -> str | None:
    """The code in anything that looks like a webhook URL, valid or not: what redaction must hide."""
    if not isinstance(url, str):
        return None
    found = _CODE_IN_TEXT.search(url)
    return found.group(1).rstrip("/") if found else None


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
        """The same webhook on the host a 302 ``Location`` names, when protocol §1.1 allows the move.

        A portal rename keeps the portal's operator: the new host must be https (plain http only from
        one loopback host to another, for a local emulator), hold no userinfo, and be in the same
        registrable domain as the current host, or be a Bitrix24 cloud portal when the current host
        is one. Anything else is refused, because following it would send the code elsewhere.
        """
        shown = _shown_location(location)
        if _FORBIDDEN.search(location):
            raise WebhookUrlError(f"{self.host} redirected to a malformed Location ({shown}); not followed")
        try:
            parts = urlsplit(location)
        except ValueError:
            raise WebhookUrlError(
                f"{self.host} redirected to a malformed Location ({shown}); not followed"
            ) from None
        if not parts.netloc:
            return self
        if "@" in parts.netloc:
            raise WebhookUrlError(
                f"{self.host} redirected to a Location with a user name or password; not followed"
            )
        scheme = (parts.scheme or self.scheme).lower()
        netloc = _checked_netloc(parts.netloc, scheme, f"the redirect from {self.host} to {shown}")
        moved = replace(self, scheme=scheme, netloc=netloc)
        new, old = moved.host.lower(), self.host.lower()
        plain_allowed = (is_loopback(new) and is_loopback(old)) or (
            self.allow_http and scheme == "http" and not is_cloud_host(new)
        )
        if scheme == "http" and self.allow_http and is_cloud_host(new):
            raise WebhookUrlError(
                f"{self.host} redirected to http://{new}/, but {new} is a Bitrix24 cloud portal and those "
                "answer only https (protocol §1.1); not followed"
            )
        if scheme != "https" and not plain_allowed:
            raise WebhookUrlError(
                f"{self.host} redirected to {scheme}://{new}/: b24sync follows a renamed portal over "
                "https only; check the webhook URL"
            )
        if not _same_operator(old, new):
            raise WebhookUrlError(
                f"{self.host} redirected to {new}, outside its own domain, so the webhook code is not sent "
                f"there (protocol §1.1): if the portal moved, set the new webhook URL ({_SHAPE})"
            )
        return moved


def _same_operator(old: str, new: str) -> bool:
    if old == new:
        return True
    if _is_ip(old) or _is_ip(new):
        return is_loopback(old) and is_loopback(new)
    if is_cloud_portal(old) and is_cloud_portal(new):
        return True
    return registrable_domain(old) == registrable_domain(new)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _shown_location(location: str) -> str:
    """A Location safe to show: no userinfo, no webhook code, no control characters, short."""
    text = re.sub(r"//[^/@]*@", "//", location)
    code = webhook_code(text)
    if code:
        text = text.replace(code, REDACTED)
    text = _FORBIDDEN.sub("?", text)
    return text if len(text) <= 120 else text[:117] + "..."


def _valid_host(host: str) -> bool:
    if host.startswith("["):
        try:
            return host.endswith("]") and ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    if _is_ip(host):
        return True
    ascii_host = _ascii(host)
    labels = ascii_host.lower().rstrip(".").split(".") if ascii_host else []
    return bool(labels) and len(ascii_host or "") <= 253 and all(_LABEL.match(label) for label in labels)


def _ascii(host: str) -> str | None:
    """The host as sent (punycode for an internationalised name), or ``None`` when it has no such form."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _checked_netloc(netloc: str, scheme: str, what: str) -> str:
    """``netloc`` when it is a host and an optional port in 1-65535 that urllib3 reads the same way."""
    host, _, port = netloc.rpartition(":") if not netloc.endswith("]") else (netloc, "", "")
    if not host:
        host, port = netloc, ""
    if port and (not port.isdigit() or not 0 < int(port) <= 65535 or len(port) > 5):
        raise WebhookUrlError(f"{what} has the port {port!r}: a port is a number from 1 to 65535")
    if not _valid_host(host):
        raise WebhookUrlError(f"{what} has no valid host name ({_FORBIDDEN.sub('?', host)[:60]!r})")
    try:
        sent = parse_url(f"{scheme}://{netloc}/")
    except LocationParseError:
        raise WebhookUrlError(f"{what} is not a URL requests can send to") from None
    expected_port = int(port) if port else None
    if (sent.host or "").lower() != (_ascii(host) or "").lower() or sent.port != expected_port or sent.auth:
        raise WebhookUrlError(f"{what} would be read differently when sent; write it plainly")
    return netloc


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


def check_webhook_url(url: object, *, allow_http: bool = False) -> Webhook:
    """Parse and check a webhook URL before anything runs; errors never show the secret or userinfo.

    ``allow_http`` accepts plain http for a self-hosted portal; a Bitrix24 cloud host is refused anyway.

    The one check of a webhook URL: the command line calls it for ``--webhook`` and
    ``$B24_WEBHOOK_URL`` before it loads anything, the client for every URL it is given.
    """
    text = url.strip() if isinstance(url, str) else ""
    if _FORBIDDEN.search(text):
        raise WebhookUrlError(
            "the webhook URL holds a space, a control character, a backslash or a quote: "
            f"copy it again from Bitrix24; it should look like {_SHAPE}"
        )
    try:
        parts = urlsplit(text)
        netloc, host = parts.netloc, parts.hostname
    except ValueError:
        netloc, host, parts = "", None, urlsplit("")
    if "@" in netloc:
        raise WebhookUrlError(
            "the webhook URL holds a user name or password before the host: Bitrix24 webhooks take "
            f"none (the code is in the path); it should look like {_SHAPE}"
        )
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
    scheme = parts.scheme.lower()
    webhook = Webhook(scheme, netloc, int(match["user"]), match["secret"], allow_http)
    _check_scheme(webhook.scheme, host, webhook.redacted_url, allow_http)
    _checked_netloc(netloc, scheme, f"webhook URL {webhook.redacted_url}")
    return webhook


parse_webhook_url = check_webhook_url
"""The name the client has always exported; the same check."""
