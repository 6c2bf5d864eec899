"""An unreachable portal: retries counted as retries, one clean line of cause."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner

from b24sync.cli import main
from b24sync.report.model import RunReport

PIPELINE = """\
version: 1
name: unreachable
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the probe is closed


def test_an_unreachable_portal_is_one_clean_line_and_its_retries_are_not_limit_waits(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    url = f"http://127.0.0.1:{_closed_port()}/rest/1/abc/"
    options = ["--no-progress", "--no-contract", "--timeout", "2", "--report", str(tmp_path / "r.json")]
    result = CliRunner().invoke(
        main,
        ["apply", str(path), "--webhook", url, *options],
        env={"GITHUB_STEP_SUMMARY": ""},
        catch_exceptions=False,
    )
    shown = result.stdout + result.stderr
    assert result.exit_code == 3, shown
    assert "could not reach 127.0.0.1: connection refused" in result.stderr, shown  # the cause, whole
    assert shown.count("connection refused") == 1, shown  # once: the not-run line points at it
    assert "HTTPConnectionPool" not in shown and "NewConnectionError" not in shown and "..." not in shown
    assert "0.0 s waited for limits" in shown and " 0 retries" not in shown  # backoff is not a limit wait


UPSERT = """\
version: 1
name: unreachable
steps:
  - id: contact
    upsert:
      entity: contact
      match: {originatorId: s, originId: "1"}
      fields: {name: Ann}
"""


def test_an_upsert_apply_that_cannot_read_the_state_still_writes_its_report(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(UPSERT, encoding="utf-8")
    report = tmp_path / "r.json"
    url = f"http://127.0.0.1:{_closed_port()}/rest/1/s3cr3tcode/"
    options = ["--no-progress", "--no-contract", "--timeout", "2", "--report", str(report)]
    result = CliRunner().invoke(
        main, ["apply", str(path), "--webhook", url, *options], env={}, catch_exceptions=False
    )
    assert result.exit_code == 3, result.output
    assert result.stderr.count("connection refused") == 1
    written = json.loads(report.read_text(encoding="utf-8"))  # CI keeps a record of the failed run
    assert written["status"] == "failed" and written["steps"] == []
    assert "could not reach 127.0.0.1: connection refused" in written["error"]
    assert "s3cr3tcode" not in report.read_text(encoding="utf-8") + result.output
    assert RunReport.model_validate(written).error == written["error"]
