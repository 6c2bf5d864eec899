"""The errors a new user meets in the first hour: each is one sentence saying what to do, never a traceback.

Run as a user would: the command line on the shipped quickstart, against the real emulator server on
loopback where a portal is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result

from b24sync.cli import main
from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import AuthError
from tests.helpers.scripted import WEBHOOK, ScriptedAdapter

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = "pipelines/quickstart.yaml"
WEBHOOK_PAGE = "Developer resources > Other > Inbound webhook"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("B24_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("B24SYNC_TARGET", raising=False)


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def one_error_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def portal_without_crm() -> Iterator[str]:
    with Emulator(token="s3cr3tcode", scopes=("task", "user")).serve() as url:
        yield url


@pytest.fixture
def portal() -> Iterator[str]:
    with Emulator(token="s3cr3tcode").serve() as url:
        yield url


def test_no_portal_named_runs_on_the_emulator_and_says_so(tmp_path: Path) -> None:
    result = run("apply", QUICKSTART, "--report", str(tmp_path / "r.json"), "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert one_error_line(result) == (
        "b24sync: no target given: using the built-in emulator (nothing leaves this machine); "
        "pass --target NAME or set B24_WEBHOOK_URL to use a portal"
    )
    assert "target    https://emulator.b24sync.invalid/rest/1/***/" in result.stdout


def test_in_ci_no_portal_named_is_an_error_not_an_emulator_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = run("apply", QUICKSTART, "--report", str(tmp_path / "r.json"))
    assert result.exit_code == 2
    assert one_error_line(result) == (
        "b24sync: error: no portal named, and in CI b24sync does not fall back to the built-in emulator: "
        "pass --target NAME, set B24_WEBHOOK_URL (from the secret store), or pass --emulator to run on "
        "the emulator"
    )
    assert not (tmp_path / "r.json").exists()


def test_an_empty_webhook_variable_is_a_missing_secret_not_a_default(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["apply", QUICKSTART, "--report", str(tmp_path / "r.json")],
                                env={"B24_WEBHOOK_URL": ""})  # fmt: skip
    assert result.exit_code == 2
    assert one_error_line(result).startswith("b24sync: error: $B24_WEBHOOK_URL is set but empty")
    assert not (tmp_path / "r.json").exists()


def test_a_typo_in_a_key_is_one_line_with_the_key_meant(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "version: 1\nname: p\nsteps:\n  - id: company\n    metod: crm.item.add\n"
        "    params: {entityTypeId: 4}\n",
        encoding="utf-8",
    )
    result = run("validate", str(pipeline))
    assert result.exit_code == 2
    assert one_error_line(result) == (
        f"{pipeline}:5:5: steps[0].metod: unknown key 'metod' (did you mean 'method'?)"
    )
    assert run("apply", str(pipeline), "--emulator").stderr == result.stderr


def test_a_wrong_webhook_code_says_to_copy_the_url_again(portal: str, tmp_path: Path) -> None:
    wrong = portal.replace("s3cr3tcode", "wr0ngcode")
    result = run(
        "apply", QUICKSTART, "--webhook", wrong, "--report", str(tmp_path / "r.json"), "--no-progress"
    )
    assert result.exit_code == 3
    assert one_error_line(result) == (
        "b24sync: error: the portal refused the webhook's user id or code: copy the webhook URL again "
        f"from Bitrix24 ({WEBHOOK_PAGE}) into B24_WEBHOOK_URL (INVALID_CREDENTIALS, HTTP 401)"
    )
    assert "wr0ngcode" not in result.output + result.stderr + (tmp_path / "r.json").read_text()


def test_a_wrong_webhook_code_in_the_library_raises_the_same_advice(portal: str) -> None:
    wrong = portal.replace("s3cr3tcode", "wr0ngcode")
    with B24Hook.from_webhook_url(wrong) as hook, pytest.raises(AuthError) as caught:
        hook.call_method("server.time")
    assert caught.value.code == "INVALID_CREDENTIALS"
    assert str(caught.value).startswith("the portal refused the webhook's user id or code: copy")
    assert "wr0ngcode" not in str(caught.value)


def test_an_http_url_says_https_is_needed_and_hides_the_code(tmp_path: Path) -> None:
    result = run("apply", QUICKSTART, "--webhook", "http://acme.bitrix24.com/rest/1/s3cr3tcode/")
    assert result.exit_code == 2
    assert one_error_line(result) == (
        "b24sync: error: webhook URL http://acme.bitrix24.com/rest/1/***/ uses http: Bitrix24 webhooks "
        "require https (plain http is accepted only for a local emulator on 127.0.0.1 or localhost)"
    )


def test_a_missing_data_file_names_the_path_and_the_likely_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "contacts.csv").write_text("name\nAnn\n", encoding="utf-8")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "version: 1\nname: p\nsteps:\n  - id: contact\n    for_each: {file: data/contact.csv}\n"
        "    method: crm.item.add\n    params: {entityTypeId: 3, fields: {name: '{{ item.name }}'}}\n",
        encoding="utf-8",
    )
    result = run("validate", str(pipeline))
    assert result.exit_code == 2
    assert one_error_line(result) == (
        f"{pipeline}:5:22: steps[0].for_each.file: data file {tmp_path}/data/contact.csv does not exist "
        "(did you mean 'contacts.csv'?)"
    )


def test_a_portal_without_the_crm_scope_names_the_scope_to_add(tmp_path: Path) -> None:
    emu = Emulator(token="s3cr3tcode", scopes=("task", "user"))
    report = tmp_path / "r.json"
    with emu.serve() as url:
        result = run("apply", QUICKSTART, "--webhook", url, "--report", str(report), "--no-progress")
    # the pre-flight `scope` call finds the missing scope before the first write: exit 3, nothing sent
    assert result.exit_code == 3, result.output
    assert result.stderr == (
        "b24sync: error: the webhook lacks the scope crm (for crm.item.add): add crm to the webhook's "
        f"permissions in Bitrix24 ({WEBHOOK_PAGE}) and save; nothing was sent\n"
    )
    assert emu.store.items(4) == [] and emu.store.items(3) == [] and emu.store.items(2) == []
    steps = json.loads(report.read_text())["steps"]
    assert steps and {s["status"] for s in steps} == {"not_run"}
    assert "s3cr3tcode" not in result.stdout + report.read_text()


def test_a_whole_request_refused_for_scope_raises_with_the_scope_to_add(portal_without_crm: str) -> None:
    with B24Hook.from_webhook_url(portal_without_crm) as hook, pytest.raises(AuthError) as caught:
        hook.call_method("crm.item.list", {"entityTypeId": 3})
    assert str(caught.value) == (
        "the webhook lacks the crm scope that crm.item.list needs: add crm to the webhook's permissions in "
        f"Bitrix24 ({WEBHOOK_PAGE}) and save (insufficient_scope, HTTP 401)"
    )


def test_a_batch_refused_whole_for_scope_lists_the_scopes_of_its_commands() -> None:
    adapter = ScriptedAdapter(
        (
            401,
            {
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by the webhook token",
            },
        )
    )
    session = requests.Session()
    session.mount("https://", adapter)
    hook = B24Hook(WEBHOOK, session=session, rate_limit=None)
    with pytest.raises(AuthError) as caught:
        hook.call_batch({"c": ["crm.item.add", {"entityTypeId": 3}], "t": ["tasks.task.add", {"fields": {}}]})
    assert str(caught.value) == (
        "the webhook lacks a scope that crm.item.add, tasks.task.add need: make sure its permissions in "
        f"Bitrix24 ({WEBHOOK_PAGE}) include crm, task (insufficient_scope, HTTP 401)"
    )


def test_a_webhook_url_copied_with_a_method_says_to_drop_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("B24_WEBHOOK_URL", "https://acme.bitrix24.com/rest/1/s3cr3tcode/profile.json")
    result = run("apply", QUICKSTART)
    assert result.exit_code == 2
    assert one_error_line(result) == (
        "b24sync: error: https://acme.bitrix24.com/... ends with the method 'profile.json': drop it, the "
        "webhook URL ends after the code (https://<portal>.bitrix24.com/rest/<user id>/<webhook code>/)"
    )
