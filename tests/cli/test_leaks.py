"""The webhook code and every secret never leave b24sync, on any error path (issue 14).

A distinctive code and secret are planted; a hostile portal on loopback echoes them wherever a
portal can (5xx pages, command errors, results, records, redirects), and hostile pipelines try to
read them. Every output stream and every file written is then searched for each form they can
take: plain, percent-encoded (three ways), JSON-escaped, base64 and, for the code, reversed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner

from b24sync.cli import main
from tests.helpers.hostile_portal import Answer, HostilePortal, json_answer

CODE = "zq81leakc0de"
SECRET = 's3cr3t V4lue+/="é'
PIPELINE = """version: 1
name: leak
steps:
  - id: a
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ secret('API_TOKEN') }}"}}
"""
UPSERT = """version: 1
name: leak
steps:
  - id: c
    upsert:
      entity: contact
      match: {originatorId: s, originId: "1"}
      fields: {name: "{{ secret('API_TOKEN') }}", post: new}
"""


def forms(value: str) -> set[str]:
    found = {value, quote(value, safe=""), quote(value, safe="/"), quote_plus(value)}
    found |= {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    found |= {base64.b64encode(value.encode()).decode().rstrip("=")}
    return found


LEAKS = forms(CODE) | forms(SECRET) | {CODE[::-1]}
ECHO = f"/rest/1/{CODE}/batch {SECRET} {quote(SECRET, safe='')} {quote_plus(SECRET)} {json.dumps(SECRET)}"


def keys(payload: dict[str, Any]) -> list[str]:
    cmd = payload.get("cmd") or {}
    return list(cmd) if isinstance(cmd, dict) else [str(i) for i in range(len(cmd))]


def maps(result: Any = None, errors: Any = None) -> dict[str, Any]:
    return {
        "result": result or [],
        "result_error": errors or [],
        "result_total": [],
        "result_next": [],
        "result_time": [],
    }


SCRIPTS: dict[str, Any] = {
    "5xx-echoing-the-path": lambda path, p: json_answer(
        {"error": "INTERNAL", "error_description": ECHO}, 500
    ),
    "401-echoing-the-path": lambda path, p: json_answer(
        {"error": "NO_AUTH_FOUND", "error_description": ECHO}, 401
    ),
    "command-error-echo": lambda path, p: json_answer(
        {"result": maps(errors={k: {"error": "X", "error_description": ECHO} for k in keys(p)})}
    ),
    "result-echo": lambda path, p: json_answer(
        {"result": maps(result={k: {"item": {"id": 1, "name": ECHO, ECHO: 1}} for k in keys(p)})}
    ),
    "result-is-text": lambda path, p: json_answer({"result": ECHO}),
    "result-result-is-text": lambda path, p: json_answer({"result": {"result": ECHO}}),
    "redirect-elsewhere": lambda path, p: (
        302,
        {"Location": f"https://evil.example/rest/1/{CODE}/batch?{SECRET}"},
        b"",
    ),
    "redirect-other-domain": lambda path, p: (
        302,
        {"Location": f"https://evil.example/rest/1/{CODE}/batch"},
        b"",
    ),
    "html-echo": lambda path, p: (502, {"Content-Type": "text/html"}, ECHO.encode()),
}


def records(path: str, payload: dict[str, Any]) -> Answer:
    row = {"id": 5, "originatorId": "s", "originId": "1", "name": ECHO, "post": ECHO}
    return json_answer({"result": maps(result={k: {"items": [row]} for k in keys(payload)})})


def run(tmp_path: Path, portal: HostilePortal, args: list[str], pipeline: str = PIPELINE) -> str:
    file = tmp_path / "p.yaml"
    file.write_text(pipeline)
    env = {"B24_WEBHOOK_URL": portal.url, "API_TOKEN": SECRET, "GITHUB_STEP_SUMMARY": ""}
    with portal.running():
        # the hostile portal answers every read with its echo, so the field contract (a read of its
        # own, through the same redactor) is skipped: these tests follow the records and the writes
        skip = ["--no-contract"] if args[0] in ("plan", "apply") else []
        result = CliRunner().invoke(main, [args[0], str(file), *args[1:], *skip], env=env)
    assert result.exit_code in (0, 1, 2, 3), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    texts = [result.stdout, result.stderr]
    texts += [f.read_text(errors="replace") for f in tmp_path.iterdir() if f.is_file() and f.name != "p.yaml"]
    return "\n".join(texts)


def assert_clean(text: str) -> None:
    found = sorted(form for form in LEAKS if form in text)
    assert not found, f"leaked {found}"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_apply_leaks_nothing_whatever_the_portal_answers(tmp_path: Path, name: str) -> None:
    portal = HostilePortal(SCRIPTS[name], CODE)
    out = [
        "--report",
        str(tmp_path / "r.json"),
        "--junit",
        str(tmp_path / "j.xml"),
        "--markdown",
        str(tmp_path / "m.md"),
    ]
    text = run(tmp_path, portal, ["apply", *out, "--rate-limit", "off", "--timeout", "5"])
    assert (tmp_path / "r.json").exists(), text
    assert_clean(text)
    if not name.startswith("redirect"):
        assert "***" in text  # the echo was there, redacted


@pytest.mark.parametrize("extra", [[], ["--diff"], ["--format", "json"], ["--diff", "--detailed-exitcode"]])
def test_plan_leaks_nothing_from_the_portals_records(tmp_path: Path, extra: list[str]) -> None:
    portal = HostilePortal(records, CODE)
    text = run(tmp_path, portal, ["plan", "--out", str(tmp_path / "plan.json"), *extra], UPSERT)
    assert "***" in text
    assert_clean(text)


@pytest.mark.parametrize(
    "template",
    [
        "{{ env('B24_WEBHOOK_URL').split('/')[5] }}",
        "{{ env('B24_WEBHOOK_URL').split('/')[5][::-1] }}",
        "{{ env('API_TOKEN') }}",
        "{{ env('API_TOKEN')|list|join('.') }}",
        "{{ secret('API_TOKEN')|string }}",
        "{{ env('B24_WEBHOOK_URL' if true else 'x') ~ [] }}",
    ],
)
def test_a_pipeline_cannot_read_the_code_or_a_secret(tmp_path: Path, template: str) -> None:
    pipeline = PIPELINE.replace("{{ secret('API_TOKEN') }}", template.replace('"', "'"))
    for command in ("validate", "plan"):
        portal = HostilePortal(SCRIPTS["result-echo"], CODE)
        text = run(tmp_path, portal, [command], pipeline)
        assert_clean(text)
        assert "refused" in text or "cannot be transformed" in text, text
        assert portal.requests == []


def test_a_webhook_url_with_userinfo_is_refused_without_showing_it(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    file.write_text(PIPELINE)
    url = f"https://me:{quote(SECRET, safe='')}@portal.bitrix24.com/rest/1/{CODE}/"
    result = CliRunner().invoke(
        main, ["apply", str(file), "--webhook", url, "--report", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 2
    assert "user name or password" in result.stderr
    assert_clean(result.output)
    assert not (tmp_path / "r.json").exists()
