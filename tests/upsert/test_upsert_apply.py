"""Upsert pipelines end to end on the emulator: converge, update what changed, refuse ambiguity."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.pipeline import load_pipeline
from b24sync.planning.planner import plan
from b24sync.report.files import write_report
from b24sync.report.model import PipelineRef, build_report
from b24sync.run.executor import execute
from b24sync.upsert.state import read_state

PIPELINE = """\
version: 1
name: shop-sync
steps:
  - id: contact
    for_each: {file: contacts.csv}
    key: "{{ item.id }}"
    upsert:
      entity: contact
      match: {originatorId: shop, originId: "{{ item.id }}"}
      fields: {name: "{{ item.name }}", lastName: "{{ item.surname }}", post: "{{ item.title }}"}
    %s
  - id: deal
    for_each: {file: contacts.csv}
    key: "{{ item.id }}"
    upsert:
      entity: deal
      match: {originatorId: shop, originId: "deal-{{ item.id }}"}
      fields: {title: "Order {{ item.id }}", contactId: "{{ steps.contact[item.id].id }}"}
"""
ROWS = [("1", "Ann", "Lee", "CEO"), ("2", "Bob", "Stone", "CTO"), ("3", "Cid", "Moss", "")]


def write(tmp_path: Path, rows: Sequence[tuple[str, ...]] = ROWS, delete_missing: bool = False) -> Path:
    lines = ["id,name,surname,title", *(",".join(row) for row in rows)]
    (tmp_path / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp_path / "sync.yaml"
    path.write_text(PIPELINE % ("delete_missing: true" if delete_missing else ""), encoding="utf-8")
    return path


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--webhook", url], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def writes(emu: Emulator) -> int:
    by_method = emu.stats()["by_method"]
    return sum(
        count for method, count in by_method.items() if method.endswith((".add", ".update", ".delete"))
    )


def test_first_run_creates_then_a_second_run_writes_nothing(tmp_path: Path) -> None:
    emu = Emulator()
    path = write(tmp_path)
    with emu.serve() as url:
        code, _, err = run(url, "apply", str(path), "--report", str(tmp_path / "r1.json"))
        assert code == 0, err
        assert len(emu.store.items(3)) == 3 and len(emu.store.items(2)) == 3
        contacts = {c["originId"]: c["id"] for c in emu.store.items(3)}
        assert {d["originId"]: d["contactId"] for d in emu.store.items(2)} == {
            f"deal-{k}": v for k, v in contacts.items()
        }
        before_writes, before_requests = writes(emu), emu.stats()["requests"]
        code, out, _ = run(url, "apply", str(path), "--report", str(tmp_path / "r2.json"))
        assert code == 0
        assert "6 of 6 steps succeeded" in out
        assert writes(emu) == before_writes
        # the field contract costs 2 requests (fields, status lists), the state of both steps one
        # request each; no batch of writes is sent
        assert emu.stats()["requests"] - before_requests == 2 + 2
        report = json.loads((tmp_path / "r2.json").read_text())
        assert report["totals"]["requests"] == 0
        assert {s["summary"] for s in report["steps"]} == {f"unchanged (id {i})" for i in (1, 2, 3)}


def test_one_changed_row_gives_exactly_one_update_with_its_diff(tmp_path: Path) -> None:
    emu = Emulator()
    with emu.serve() as url:
        assert run(url, "apply", str(write(tmp_path)), "--report", str(tmp_path / "r.json"))[0] == 0
        changed = [ROWS[0], ("2", "Bob", "Stone", "CEO"), ROWS[2]]
        path = write(tmp_path, changed)
        code, out, _ = run(url, "plan", str(path), "--diff", "--detailed-exitcode")
        assert code == 2
        assert "contact: + 0 create, ~ 1 update, = 2 unchanged, - 0 delete" in out
        assert '      post: "CTO" -> CEO' in out
        before = emu.stats()["by_method"].get("crm.item.update", 0)
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r2.json"))[0] == 0
        assert emu.stats()["by_method"]["crm.item.update"] - before == 1
        assert [c["post"] for c in emu.store.items(3)][:2] == ["CEO", "CEO"]
        assert run(url, "plan", str(path), "--detailed-exitcode")[0] == 0


def test_a_duplicate_in_the_portal_fails_that_instance_only(tmp_path: Path) -> None:
    emu = Emulator()
    with emu.serve() as url:
        path = write(tmp_path)
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r.json"))[0] == 0
        # a careless import adds a second record with the same external key
        requests.post(
            url + "crm.item.add",
            json={
                "entityTypeId": 3,
                "fields": {"originatorId": "shop", "originId": "2", "name": "Bob again"},
            },
            timeout=10,
        )
        code, out, _ = run(url, "plan", str(path), "--detailed-exitcode")
        assert code == 1
        assert "! contact[2]: 2 records match" in out
        assert "! deal[2] not planned: depends on contact[2], which matches several records" in out
        report = tmp_path / "r2.json"
        code, out, _ = run(url, "apply", str(path), "--report", str(report))
        assert code == 1
        steps = {s["command_key"]: s for s in json.loads(report.read_text())["steps"]}
        assert (
            steps["contact_2"]["status"] == "failed" and steps["contact_2"]["error_code"] == "AMBIGUOUS_MATCH"
        )
        # the match as rendered for this instance, never the template
        assert "{'originatorId': 'shop', 'originId': '2'}" in steps["contact_2"]["error_description"]
        assert "{{" not in steps["contact_2"]["error_description"]
        assert steps["deal_2"]["status"] == "skipped"
        assert steps["contact_1"]["status"] == steps["deal_3"]["status"] == "succeeded"


def test_a_run_killed_by_a_dropped_connection_is_resumed_without_duplicates(tmp_path: Path) -> None:
    emu = Emulator()
    path = write(tmp_path)
    report = tmp_path / "killed.json"
    with emu.serve() as url:
        # the state is read, then the batch of writes is processed and its answer dropped
        pipeline = load_pipeline(str(path))
        state = read_state(pipeline, B24Hook.from_webhook_url(url, rate_limit=None))
        faulty = Emulator(store=emu.store, drop_rate=1.0, seed=3)
        with faulty.serve() as faulty_url:
            the_plan = plan(pipeline, state)
            execution = execute(the_plan, B24Hook.from_webhook_url(faulty_url, rate_limit=None))
        assert {s.status for s in execution.steps} == {"unknown"}
        write_report(
            build_report(
                run_id="0" * 32,
                pipeline=PipelineRef(path=str(path), sha256=the_plan.pipeline.sha256),
                target="t",
                started_at="2026-01-01T00:00:00Z",
                finished_at="2026-01-01T00:00:01Z",
                duration_s=1,
                steps=execution.steps,
            ),
            str(report),
        )
        assert len(emu.store.items(3)) == 3  # the writes did happen
        # no --assume flag needed: reading the records again settles every unknown upsert
        code, _, err = run(
            url, "apply", str(path), "--report", str(tmp_path / "r.json"), "--resume", str(report)
        )
        assert code == 0, err
    assert len(emu.store.items(3)) == 3 and len(emu.store.items(2)) == 3


def test_delete_missing_plans_deletes_and_runs_them_only_when_allowed(tmp_path: Path) -> None:
    emu = Emulator()
    with emu.serve() as url:
        assert (
            run(
                url, "apply", str(write(tmp_path, delete_missing=True)), "--report", str(tmp_path / "r.json")
            )[0]
            == 0
        )
        path = write(tmp_path, ROWS[:2], delete_missing=True)
        code, out, _ = run(url, "plan", str(path))
        assert code == 0
        assert "contact: + 0 create, ~ 0 update, = 2 unchanged, - 1 delete" in out
        assert "1 delete shown above will run only with apply --allow-delete" in out
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r2.json"))[0] == 0
        assert len(emu.store.items(3)) == 3
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r3.json"), "--allow-delete")[0] == 0
        assert sorted(c["originId"] for c in emu.store.items(3)) == ["1", "2"]


def test_plan_of_an_upsert_pipeline_in_ci_needs_a_portal(tmp_path: Path) -> None:
    env = {"B24_WEBHOOK_URL": None, "B24SYNC_TARGET": None, "CI": "true"}
    result = CliRunner().invoke(main, ["plan", str(write(tmp_path))], env=env)
    assert result.exit_code == 2
    assert "upsert steps and portal sources read the portal" in result.stderr


def test_plan_of_an_upsert_pipeline_outside_ci_reads_the_default_emulator(tmp_path: Path) -> None:
    env = {"B24_WEBHOOK_URL": None, "B24SYNC_TARGET": None, "CI": None}
    result = CliRunner().invoke(main, ["plan", str(write(tmp_path))], env=env)
    assert result.exit_code == 0, result.stderr
    assert "using the built-in emulator" in result.stderr
    assert "contact: + 3 create, ~ 0 update, = 0 unchanged, - 0 delete" in result.stdout


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "upsert: {entity: contact, match: {originId: '1'}}\n    method: crm.item.add",
            "either method or upsert",
        ),
        ("upsert: {entity: contact, entityTypeId: 3, match: {originId: '1'}}", "exactly one of entity"),
        (
            "upsert: {entity: contact, match: {originId: '{{ steps.first.item.id }}'}}",
            "match values must be known",
        ),
    ],
)
def test_bad_upsert_steps_are_pipeline_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"version: 1\nname: x\nsteps:\n  - id: first\n    method: crm.item.add\n  - id: c\n    {body}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr and str(path) in result.stderr


def test_detailed_exitcode_turns_an_invalid_pipeline_into_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: x\nsteps:\n  - id: a\n    metod: crm.item.add\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["plan", str(path), "--detailed-exitcode"])
    assert result.exit_code == 1
    assert "did you mean 'method'" in result.stderr
    assert CliRunner().invoke(main, ["plan", str(path)]).exit_code == 2


def test_an_empty_match_value_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("id,name\n1,Ann\n,Nobody\n", encoding="utf-8")
    path = tmp_path / "sync.yaml"
    path.write_text(
        """\
version: 1
name: keyed-by-name
steps:
  - id: contact
    for_each: {file: people.csv}
    key: "{{ item.name }}"
    upsert:
      entity: contact
      match: {originatorId: shop, originId: "{{ item.id }}"}
      fields: {name: "{{ item.name }}"}
""",
        encoding="utf-8",
    )
    emu = Emulator()
    with emu.serve() as url:
        code, _, err = run(url, "apply", str(path), "--report", str(tmp_path / "r.json"))
    assert code == 2
    assert "instance 'Nobody' has an empty originId: every instance needs a value" in err
    assert emu.store.items(3) == []


def test_a_saved_plan_the_portal_moved_on_from_is_refused_as_stale(tmp_path: Path) -> None:
    emu = Emulator()
    with emu.serve() as url:
        path = write(tmp_path)
        saved = tmp_path / "plan.json"
        assert run(url, "plan", str(path), "--out", str(saved))[0] == 0
        # the records the plan wanted to create appear in the meantime (another run, an import)
        assert run(url, "apply", str(path), "--report", str(tmp_path / "other.json"))[0] == 0
        before = len(emu.store.items(3))
        code, out, err = run(url, "apply", str(saved), "--report", str(tmp_path / "r.json"))
        assert code == 1, out + err
        assert "is stale: the portal changed since it was planned (contact_1: create -> unchanged" in err
        assert "plan again" in err
        assert len(emu.store.items(3)) == before  # nothing created twice
        # a fresh plan of the same portal applies
        assert run(url, "plan", str(path), "--out", str(saved))[0] == 0
        assert run(url, "apply", str(saved), "--report", str(tmp_path / "r.json"))[0] == 0
