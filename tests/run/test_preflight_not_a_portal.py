"""A server that is not Bitrix24 answering 5xx with an HTML page fails the pre-flight after one retry
(exit 3, nothing written), where it used to be retried until the deadline; a real portal's JSON 503
``QUERY_LIMIT_EXCEEDED``, and a page after Bitrix24 answers, are still retried."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.client.hook import B24Hook, RetryPolicy
from b24sync.errors import TransportError
from tests.helpers.hostile_portal import Answer, HostilePortal, json_answer

PIPELINE = """\
version: 1
name: people
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
"""
CODE = "s3cr3tcode"


def _page(status: int) -> Answer:
    html = f"<html><head><title>{status}</title></head><body><h1>{status}</h1><p>/rest/1/{CODE}/</p></body></html>"
    return status, {"Content-Type": "text/html"}, html.encode()


@pytest.mark.parametrize("status", [501, 502])
def test_an_html_5xx_server_fails_the_preflight_after_one_retry(tmp_path: Path, status: int) -> None:
    server = HostilePortal(lambda path, payload: _page(status), CODE)
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    report = tmp_path / "r.json"
    with server.running():
        result = CliRunner().invoke(
            main,
            [
                *("apply", str(path), "--webhook", server.url, "--report", str(report)),
                *("--no-progress", "--no-contract", "--timeout", "60"),
            ],
            env={"GITHUB_STEP_SUMMARY": ""},
            catch_exceptions=False,
        )
    out = result.stdout + result.stderr
    assert result.exit_code == 3, out
    # the scope call and its one retry; never a batch, however long --timeout allows
    assert [p for p, _ in server.requests] == [f"/rest/1/{CODE}/scope"] * 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("b24sync: error:")]
    assert len(errors) == 1
    assert f"is not answering like Bitrix24: HTTP {status} with a non-JSON body (text/html)" in errors[0]
    assert "check that B24_WEBHOOK_URL is a Bitrix24 inbound webhook URL" in errors[0]
    assert "OUTCOME_UNKNOWN" not in out and CODE not in out + report.read_text()
    assert {s["status"] for s in json.loads(report.read_text())["steps"]} == {"not_run"}


def _client(server: HostilePortal, waits: list[float]) -> B24Hook:
    return B24Hook(
        server.url, allow_http=True, rate_limit=None, sleep=waits.append, retry=RetryPolicy(attempts=4)
    )


def test_a_portal_json_503_query_limit_is_still_waited_out() -> None:
    answers = [json_answer({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many"}, 503)] * 3

    def script(path: str, payload: dict[str, Any]) -> Answer:
        return answers.pop(0) if answers else json_answer({"result": ["crm"]})

    server = HostilePortal(script, CODE)
    waits: list[float] = []
    with server.running():
        answer = _client(server, waits).call_method("scope")
    assert answer.data == ["crm"] and len(server.requests) == 4 and len(waits) == 3


def test_an_html_5xx_after_a_bitrix24_answer_is_retried_as_before() -> None:
    answers = [json_answer({"result": ["crm"]}), _page(502), _page(502), _page(502)]

    def script(path: str, payload: dict[str, Any]) -> Answer:
        return answers.pop(0) if answers else json_answer({"result": ["crm", "task"]})

    server = HostilePortal(script, CODE)
    waits: list[float] = []
    with server.running():
        client = _client(server, waits)
        assert client.call_method("scope").data == ["crm"]
        assert client.call_method("scope").data == ["crm", "task"]  # a proxy hiccup of a real portal
    assert len(server.requests) == 5 and client.stats.retries == 3


def test_a_first_html_5xx_is_retried_once_then_a_portal_answers() -> None:
    answers = [_page(502)]

    def script(path: str, payload: dict[str, Any]) -> Answer:
        return answers.pop(0) if answers else json_answer({"result": ["crm"]})

    server = HostilePortal(script, CODE)
    with server.running():
        assert _client(server, []).call_method("scope").data == ["crm"]
    assert len(server.requests) == 2


def test_a_never_bitrix_host_fails_any_read_after_one_retry() -> None:
    server = HostilePortal(lambda path, payload: _page(502), CODE)
    waits: list[float] = []
    with server.running(), pytest.raises(TransportError, match="never given a Bitrix24 answer") as raised:
        _client(server, waits).call_method("crm.item.list", {"entityTypeId": 3})
    assert raised.value.answered and len(server.requests) == 2 and len(waits) == 1
    assert CODE not in str(raised.value)
