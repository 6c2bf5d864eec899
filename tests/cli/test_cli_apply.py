"""``b24sync apply`` end to end: the in-process emulator, and the real emulator server on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from b24sync.cli import NO_PORTAL, main
from b24sync.emulator import Emulator

TOKEN = "s3cr3tT0kenXYZ"


def pipeline(tmp_path: Path, count: int = 3, extra: str = "") -> Path:
    rows = "\n".join(f"{i},Person {i}" for i in range(count))
    (tmp_path / "people.csv").write_text(f"id,name\n{rows}\n", encoding="utf-8")
    path = tmp_path / "sync.yaml"
    path.write_text(
        f"""\
version: 1
name: people
steps:
  - id: company
    method: crm.item.add
    params: {{entityTypeId: 4, fields: {{title: Acme}}}}
  - id: contact
    for_each: {{file: people.csv}}
    key: "{{{{ item.id }}}}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields: {{name: "{{{{ item.name }}}}", companyId: "{{{{ steps.company.item.id }}}}"}}
{extra}""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def emu() -> Emulator:
    return Emulator(token=TOKEN)


@pytest.fixture
def server(emu: Emulator) -> Iterator[str]:
    with emu.serve() as url:
        yield url


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_without_a_portal_nothing_is_sent_and_the_user_is_told_what_to_do(tmp_path: Path) -> None:
    code, _out, err = run("apply", str(pipeline(tmp_path)), env={"B24_WEBHOOK_URL": ""})
    assert code == 2
    assert err.strip() == f"b24sync: error: {NO_PORTAL}"
    assert not (tmp_path / "b24sync-report.json").exists()


def test_apply_on_the_embedded_emulator(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    code, out, _ = run(
        "apply", str(pipeline(tmp_path)), "--emulator", "--report", str(report), "--no-progress"
    )
    assert code == 0, out
    assert "succeeded: 4 of 4 steps succeeded" in out
    data = read(report)
    assert data["status"] == "succeeded" and data["totals"]["requests"] == 1
    assert [s["status"] for s in data["steps"]] == ["succeeded"] * 4


def test_report_results_ids_keeps_outcomes_and_created_ids_without_results(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    code, out, _ = run(
        "apply", str(pipeline(tmp_path)), "--emulator", "--report", str(report), "--report-results", "ids"
    )
    assert code == 0, out
    data = read(report)
    assert data["results"] == "ids"
    # what the step and instance give is left out: the method (in "methods"), a key made of the name
    assert [sorted(s) for s in data["steps"]] == [
        ["attempts", "batch_index", "command_key", "created_id", "status", "step"],
        *[["attempts", "batch_index", "created_id", "instance", "status", "step"]] * 3,
    ]
    assert set(data["methods"].values()) == {"crm.item.add"}
    assert all(isinstance(s["created_id"], int) for s in data["steps"])
    code, _, err = run("apply", str(pipeline(tmp_path)), "--emulator", "--report-results", "some")
    assert code == 2 and "'some' is not one of 'full', 'ids', 'none'" in err


def test_apply_over_real_http_sends_ceil_commands_over_50_requests_and_never_shows_the_secret(
    tmp_path: Path, emu: Emulator, server: str
) -> None:
    report, junit, markdown = tmp_path / "r.json", tmp_path / "j.xml", tmp_path / "m.md"
    code, out, err = run(
        "apply",
        str(pipeline(tmp_path, count=120)),
        "--report",
        str(report),
        "--junit",
        str(junit),
        "--markdown",
        str(markdown),
        env={"B24_WEBHOOK_URL": server},
    )
    assert code == 0, out + err
    # the field contract (the fields, then the status lists), the pre-flight `scope`, 121 commands in 3 batches
    assert emu.stats()["requests"] == 2 + 1 + 3
    assert len(emu.store.items(3)) == 120
    company = emu.store.items(4)[0]["id"]
    assert {item["companyId"] for item in emu.store.items(3)} == {company}
    for text in (out, err, report.read_text(), junit.read_text(), markdown.read_text()):
        assert TOKEN not in text
    assert "/rest/1/***/" in read(report)["target"]


def test_a_wrong_webhook_code_is_exit_3_with_the_report_written(tmp_path: Path, server: str) -> None:
    report = tmp_path / "r.json"
    wrong = server.replace(TOKEN, "wrongcode")
    code, out, err = run("apply", str(pipeline(tmp_path)), "--webhook", wrong, "--report", str(report))
    assert code == 3
    assert "INVALID_CREDENTIALS" in err
    assert {s["status"] for s in read(report)["steps"]} == {"not_run"}
    assert "wrongcode" not in out + err + report.read_text()


def test_an_http_webhook_to_a_real_host_is_refused(tmp_path: Path) -> None:
    code, _, err = run(
        "apply", str(pipeline(tmp_path)), "--webhook", f"http://portal.example.com/rest/1/{TOKEN}/"
    )
    assert code == 2
    assert "require https" in err and TOKEN not in err


def test_a_failure_mid_batch_skips_dependents_and_exits_1(tmp_path: Path, server: str) -> None:
    path = pipeline(
        tmp_path,
        extra="""\
  - id: broken
    method: crm.item.get
    params: {entityTypeId: 3, id: 99999}
  - id: note
    method: crm.timeline.comment.add
    params: {fields: {ENTITY_ID: "{{ steps.company.item.id }}", ENTITY_TYPE: company, COMMENT: hi}}
    depends_on: [broken]
""",
    )
    report = tmp_path / "r.json"
    code, out, _ = run(
        "apply", str(path), "--webhook", server, "--report", str(report), "--continue-on-error"
    )
    assert code == 1
    steps = {s["command_key"]: s for s in read(report)["steps"]}
    assert steps["broken"]["status"] == "failed" and steps["broken"]["error_code"] == "NOT_FOUND"
    assert steps["note"]["status"] == "skipped" and "broken" in steps["note"]["skip_reason"]
    assert "NOT_FOUND" in out


def test_a_dropped_connection_after_processing_is_unknown_and_resume_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    # seed 0: the reads and the pre-flight `scope` get through, the one batch is dropped after processing
    emu = Emulator(token=TOKEN, drop_rate=0.5, seed=0)
    report = tmp_path / "r.json"
    path = pipeline(tmp_path, count=5)
    with emu.serve() as url:
        code, out, _ = run("apply", str(path), "--webhook", url, "--report", str(report))
    assert code == 1
    assert {s["status"] for s in read(report)["steps"]} == {"unknown"}
    assert "check the portal" in out
    stored = len(emu.store.items(3))
    assert stored == 5  # the portal did apply them

    healthy = Emulator(token=TOKEN, store=emu.store)
    with healthy.serve() as url:
        code, _, err = run(
            "apply",
            str(path),
            "--webhook",
            url,
            "--report",
            str(tmp_path / "r2.json"),
            "--resume",
            str(report),
        )
        assert code == 2 and "--assume-applied" in err
        code, _, _ = run(
            "apply",
            str(path),
            "--webhook",
            url,
            "--report",
            str(tmp_path / "r3.json"),
            "--resume",
            str(report),
            "--assume-applied",
        )
    assert code == 0
    assert len(healthy.store.items(3)) == stored  # no duplicates
    # only the field contract was read; nothing was written again
    assert set(healthy.stats()["by_method"]) <= {"batch", "crm.item.fields", "crm.status.list"}


def test_resume_after_a_halt_runs_only_what_did_not_succeed(
    tmp_path: Path, emu: Emulator, server: str
) -> None:
    path = pipeline(
        tmp_path,
        extra="""\
  - id: check
    method: crm.item.get
    params: {entityTypeId: 4, id: "{{ vars.company_id }}"}
vars: {company_id: "999"}
""",
    )
    first = tmp_path / "r1.json"
    code, _, _ = run("apply", str(path), "--webhook", server, "--report", str(first))
    assert code == 1
    assert len(emu.store.items(3)) == 3
    code, out, _ = run(
        "apply",
        str(path),
        "--webhook",
        server,
        "--report",
        str(tmp_path / "r2.json"),
        "--resume",
        str(first),
        "--var",
        f"company_id={emu.store.items(4)[0]['id']}",
    )
    assert code == 0, out
    assert len(emu.store.items(3)) == 3 and len(emu.store.items(4)) == 1


def test_ctrl_c_finishes_the_request_in_flight_writes_the_report_and_exits_130(tmp_path: Path) -> None:
    emu = Emulator(token=TOKEN, latency_ms=300)
    report = tmp_path / "r.json"
    path = pipeline(tmp_path, count=400)
    with emu.serve() as url:
        env = {**os.environ, "B24_WEBHOOK_URL": url}
        process = subprocess.Popen(
            [sys.executable, "-m", "b24sync", "apply", str(path), "--report", str(report)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        # 2 requests read the field contract; wait until the run is between its batches
        while emu.stats()["requests"] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    data = read(report)
    assert data["status"] == "interrupted"
    statuses = [s["status"] for s in data["steps"]]
    assert "succeeded" in statuses and "not_run" in statuses and "unknown" not in statuses
    # every command the report calls succeeded is really stored, and nothing else
    assert len(emu.store.items(3)) == statuses.count("succeeded") - 1


def test_a_saved_plan_runs_exactly_and_an_edited_one_is_refused(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    result = CliRunner().invoke(main, ["plan", str(pipeline(tmp_path)), "--out", str(plan_path)])
    assert result.exit_code == 0
    code, out, _ = run("apply", str(plan_path), "--emulator", "--report", str(tmp_path / "r.json"))
    assert code == 0 and "4 of 4 steps succeeded" in out
    edited = json.loads(plan_path.read_text())
    edited["batches"][0]["commands"][0]["params"]["fields"]["title"] = "Changed"
    plan_path.write_text(json.dumps(edited))
    code, _, err = run("apply", str(plan_path), "--emulator", "--report", str(tmp_path / "r2.json"))
    assert code == 2 and "command company was edited" in err
