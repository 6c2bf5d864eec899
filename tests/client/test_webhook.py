"""Webhook URLs are checked with the parser that sends them, and a redirect goes only where a
renamed portal can go (protocol §1.1)."""

from __future__ import annotations

import pytest

from b24sync.client.webhook import Webhook, check_webhook_url, parse_webhook_url, webhook_code
from b24sync.errors import WebhookUrlError

CODE = "zq81hostilecode"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # urlsplit reads the host 127.0.0.1, urllib3 connects to evil.example over plain http
        (f"http://evil.example\\@127.0.0.1/rest/1/{CODE}/", "backslash"),
        (f"https://portal.bitrix24.com:99999/rest/1/{CODE}/", "port '99999'"),
        (f"https://portal.bitrix24.com:abc/rest/1/{CODE}/", "port 'abc'"),
        (f"https://portal.bitrix24.com:0/rest/1/{CODE}/", "port '0'"),
        (f"https://user:pass@portal.bitrix24.com/rest/1/{CODE}/", "user name or password"),
        (f"https://portal.bitrix24.com@evil.example/rest/1/{CODE}/", "user name or password"),
        (f"https://portal.bitrix24.com /rest/1/{CODE}/", "space"),
        (f"https://portal.bit\x00rix24.com/rest/1/{CODE}/", "control character"),
        (f"https://portal.bitrix24.com/rest/1/{CODE}\t/", "space"),
        (f"https://portal..bitrix24.com/rest/1/{CODE}/", "no valid host name"),
        (f"https://-portal.bitrix24.com/rest/1/{CODE}/", "no valid host name"),
        (f"https://portal.bitrix24.com/rest/1/{CODE[:4]}%2F{CODE[4:]}/", "is not a webhook URL"),
        (f"https://portal.bitrix24.com/rest/99999999999/{CODE}/", "is not a webhook URL"),
    ],
)
def test_malformed_webhook_urls_are_refused_without_showing_the_code(url: str, message: str) -> None:
    with pytest.raises(WebhookUrlError, match=message) as caught:
        check_webhook_url(url)
    assert CODE not in str(caught.value)
    assert "pass@" not in str(caught.value)


def test_the_checked_url_is_the_one_sent() -> None:
    webhook = check_webhook_url(f"https://Portal.bitrix24.com:8443/rest/7/{CODE}")
    assert webhook.base_url == f"https://Portal.bitrix24.com:8443/rest/7/{CODE}/"
    assert webhook.host == "portal.bitrix24.com"
    assert check_webhook_url(f"http://[::1]:9/rest/1/{CODE}/").host == "::1"
    assert parse_webhook_url is check_webhook_url


def test_the_code_of_any_webhook_like_text_is_found_for_redaction() -> None:
    assert webhook_code(f"junk http://x:99999/rest/12/{CODE}/crm.item.add") == CODE
    assert webhook_code("https://example.com/") is None
    assert webhook_code(None) is None


PORTAL = check_webhook_url(f"https://old.bitrix24.com/rest/1/{CODE}/")
BOX = check_webhook_url(f"https://crm.shop.co.uk/rest/1/{CODE}/")


@pytest.mark.parametrize(
    ("webhook", "location", "host"),
    [
        (PORTAL, f"https://new.bitrix24.com/rest/1/{CODE}/batch", "new.bitrix24.com"),
        (PORTAL, f"https://old.bitrix24.de/rest/1/{CODE}/batch", "old.bitrix24.de"),
        (BOX, f"https://b24.shop.co.uk/rest/1/{CODE}/batch", "b24.shop.co.uk"),
        (PORTAL, "/rest/1/x/batch", "old.bitrix24.com"),
    ],
)
def test_a_rename_within_the_portals_operator_is_followed(webhook: Webhook, location: str, host: str) -> None:
    moved = webhook.moved_to(location)
    assert moved.host == host and moved.secret == CODE


@pytest.mark.parametrize(
    ("webhook", "location", "message"),
    [
        (PORTAL, f"https://evil.example/rest/1/{CODE}/batch", "outside its own domain"),
        (BOX, f"https://other.co.uk/rest/1/{CODE}/batch", "outside its own domain"),
        (BOX, f"https://shop.bitrix24.com/rest/1/{CODE}/batch", "outside its own domain"),
        (PORTAL, f"http://new.bitrix24.com/rest/1/{CODE}/batch", "https only"),
        (PORTAL, f"https://user:pw@new.bitrix24.com/rest/1/{CODE}/batch", "user name or password"),
        (PORTAL, "https://new.bitrix24.com:70000/", "port"),
        (PORTAL, "https://evil.example\\@new.bitrix24.com/", "malformed"),
        (PORTAL, "https://127.0.0.1/", "outside its own domain"),
    ],
)
def test_any_other_redirect_is_refused_with_a_clear_error(
    webhook: Webhook, location: str, message: str
) -> None:
    with pytest.raises(WebhookUrlError, match=message) as caught:
        webhook.moved_to(location)
    assert CODE not in str(caught.value) and "pw@" not in str(caught.value)


def test_plain_http_is_followed_only_between_loopback_hosts() -> None:
    local = check_webhook_url(f"http://127.0.0.1:8024/rest/1/{CODE}/")
    assert local.moved_to(f"http://localhost:8025/rest/1/{CODE}/").host == "localhost"
