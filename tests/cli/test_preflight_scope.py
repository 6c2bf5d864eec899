"""The pre-flight `scope` call: a host that is not Bitrix24, or a webhook without a scope the plan needs,
stops `apply` before its first write with exit 3, one line of advice and a report of every step not run."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.emulator import Emulator
from b24sync.pipeline.loader import load_pipeline
from b24sync.planning.planner import plan
from b24sync.run.preflight import missing_scopes

PIPELINE = """\
version: 1
name: people
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
  - id: task
    method: tasks.task.add
    params: {fields: {TITLE: Call Acme, RESPONSIBLE_ID: 1}}
  - id: me
    method: user.current
"""


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """What `python3 -m http.server` is: a file server, answering POST with 501 and an HTML page."""
    seen: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            seen.append(self.requestline)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/rest/1/s3cr3tcode/", seen
    finally:
        server.shutdown()
        server.server_close()


def _apply(tmp_path: Path, url: str) -> tuple[int, str, str, Path]:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    report = tmp_path / "r.json"
    result = CliRunner().invoke(
        main,
        [
            "apply",
            str(path),
            "--webhook",
            url,
            "--report",
            str(report),
            "--no-progress",
            "--no-contract",
            "--timeout",
            "2",
        ],
        env={"GITHUB_STEP_SUMMARY": ""},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr, report


def test_a_file_server_is_not_a_portal_exit_3_before_any_write(
    tmp_path: Path, file_server: tuple[str, list[str]]
) -> None:
    url, seen = file_server
    code, out, err, report = _apply(tmp_path, url)
    assert code == 3, out + err
    assert "OUTCOME_UNKNOWN" not in out + err and "may or may not" not in out + err
    assert seen and set(seen) == {"POST /rest/1/s3cr3tcode/scope HTTP/1.1"}  # a read (retried), no batch
    errors = [line for line in err.splitlines() if line.startswith("b24sync: error:")]
    assert len(errors) == 1 and "check that B24_WEBHOOK_URL is a Bitrix24 inbound webhook URL" in errors[0]
    # printed once: the summary's not-run line points at the error line instead of repeating it
    assert (out + err).count("HTTP 501") == 1
    assert "  the run stopped (the error below): company, task, me\n" in out
    # the run still leaves its record for CI: every step not run, none unknown
    written = json.loads(report.read_text())
    assert written["status"] == "failed"
    assert {s["status"] for s in written["steps"]} == {"not_run"}
    assert "s3cr3tcode" not in out + err + report.read_text()


def test_a_webhook_without_the_task_scope_names_it_and_sends_nothing(tmp_path: Path) -> None:
    emu = Emulator(token="s3cr3tcode", scopes=("crm", "user_basic"))
    with emu.serve() as url:
        code, out, err, report = _apply(tmp_path, url)
    assert code == 3, out + err
    assert "the webhook lacks the scope task (for tasks.task.add): add task to the webhook's" in err
    assert emu.store.items(4) == []  # the company, which the webhook could write, was not sent either
    assert {s["status"] for s in json.loads(report.read_text())["steps"]} == {"not_run"}


def test_every_scope_the_plan_needs_granted_runs(tmp_path: Path) -> None:
    emu = Emulator(token="s3cr3tcode", scopes=("crm", "task", "user_brief"))
    with emu.serve() as url:
        code, out, err, _ = _apply(tmp_path, url)
    assert code == 0, out + err
    assert len(emu.store.items(4)) == 1


def test_missing_scopes_groups_methods_and_takes_any_user_scope(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    the_plan = plan(load_pipeline(str(path)))
    assert missing_scopes(the_plan, frozenset({"crm", "task", "user_basic"})) == {}
    assert missing_scopes(the_plan, frozenset()) == {
        "crm": ["crm.item.add"],
        "task": ["tasks.task.add"],
        "user": ["user.current"],
    }
