"""The certificate check and plain http: a CA bundle, --insecure only on loopback, http for self-hosted."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.bitrix.hosts import is_cloud_host
from b24sync.client import B24Hook
from b24sync.client.tls import Tls
from b24sync.client.webhook import parse_webhook_url
from b24sync.errors import UsageError, WebhookUrlError
from b24sync.run.portal import Portal

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("host", "cloud"),
    [
        ("acme.bitrix24.com", True),
        ("acme.bitrix24.de", True),
        ("ACME.Bitrix24.EU.", True),
        ("x.bitrix24.com.br", True),
        ("bitrix24.example.com", False),
        ("crm.intranet.example", False),
        ("127.0.0.1", False),
    ],
)
def test_cloud_hosts(host: str, cloud: bool) -> None:
    assert is_cloud_host(host) is cloud


def test_http_is_accepted_for_a_self_hosted_portal_only_when_allowed() -> None:
    url = "http://crm.intranet.example/rest/1/c0de/"
    with pytest.raises(WebhookUrlError, match="for a self-hosted portal with --allow-http"):
        parse_webhook_url(url)
    assert parse_webhook_url(url, allow_http=True).scheme == "http"
    with pytest.raises(WebhookUrlError, match="Bitrix24 cloud portal") as caught:
        parse_webhook_url("http://acme.bitrix24.com/rest/1/c0de/", allow_http=True)
    assert "c0de" not in str(caught.value)


def test_a_redirect_to_a_cloud_host_over_http_is_refused_even_when_http_is_allowed() -> None:
    webhook = parse_webhook_url("http://crm.intranet.example/rest/1/c0de/", allow_http=True)
    assert webhook.moved_to("http://crm2.intranet.example/").netloc == "crm2.intranet.example"
    with pytest.raises(WebhookUrlError, match="cloud portal"):
        webhook.moved_to("http://acme.bitrix24.com/")


def test_the_verify_value_for_each_choice(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text(PEM)
    assert Tls().verify_for("acme.bitrix24.com") is True
    assert Tls(ca_bundle=str(bundle)).verify_for("portal.example") == str(bundle)
    assert Tls(insecure=True).verify_for("127.0.0.1") is False
    assert Tls(insecure=True, allow_insecure_remote=True).verify_for("portal.example") is False


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        (Tls(insecure=True), "allowed only for loopback hosts, and portal.example is not one"),
        (Tls(ca_bundle="/nonexistent/ca.pem"), "cannot read it"),
        (Tls(ca_bundle="/dev/null", insecure=True), "choose one of --ca-bundle"),
    ],
)
def test_unsafe_or_unusable_choices_are_refused(tls: Tls, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        tls.verify_for("portal.example")


def test_the_portal_hands_the_check_to_the_session(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text(PEM)
    with Portal.webhook("https://portal.example/rest/1/c0de/", tls=Tls(ca_bundle=str(bundle))) as portal:
        assert portal.client._session.verify == str(bundle)
    with Portal.webhook("http://crm.intranet.example/rest/1/c0de/", allow_http=True) as portal:
        assert portal.client.redacted_url == "http://crm.intranet.example/rest/1/***/"
    hook = B24Hook.from_webhook_url("https://127.0.0.1/rest/1/c0de/", verify=False)
    assert hook._session.verify is False
    hook.close()
