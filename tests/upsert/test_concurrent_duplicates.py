"""After an upsert apply the match values it created are read again: a concurrent writer's duplicate
fails that instance (``DUPLICATE_AFTER_RUN``, every id named), and the run exits 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

import b24sync
from b24sync.cli import main
from b24sync.emulator import Emulator, HttpRequest, HttpResponse

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
      fields: {name: "{{ item.name }}"}
"""
PLAIN = """\
version: 1
name: plain
steps:
  - id: contact
    for_each: {file: contacts.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {originatorId: shop, originId: "{{ item.id }}", name: "{{ item.name }}"}}
"""


def _project(tmp_path: Path, text: str = PIPELINE, rows: int = 3) -> Path:
    lines = ["id,name", *(f"{i},Name {i}" for i in range(1, rows + 1))]
    (tmp_path / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp_path / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _concurrent_writer(emu: Emulator, origin_ids: tuple[str, ...]) -> list[str]:
    """Another writer that creates the records of ``origin_ids`` right after this run's first write."""
    handle: Callable[[HttpRequest], HttpResponse] = emu.handle
    done: list[str] = []

    def handle_then_write(request: HttpRequest) -> HttpResponse:
        answer = handle(request)
        if not done and b"crm.item.add" in request.body:
            prefix = request.target.split("batch")[0]
            for origin_id in origin_ids:
                fields = {"originatorId": "shop", "originId": origin_id, "name": "written elsewhere"}
                body = json.dumps({"entityTypeId": 3, "fields": fields}).encode()
                handle(
                    HttpRequest(
                        "POST", prefix + "crm.item.add.json", {"Content-Type": "application/json"}, body
                    )
                )
                done.append(origin_id)
        return answer

    emu.handle = handle_then_write  # type: ignore[method-assign]
    return done


def _ids(emu: Emulator, origin_id: str) -> list[int]:
    return sorted(int(c["id"]) for c in emu.store.items(3) if c["originId"] == origin_id)


def test_a_duplicate_made_during_the_run_fails_that_instance_naming_every_id(tmp_path: Path) -> None:
    emu = Emulator()
    written = _concurrent_writer(emu, ("2",))
    applied = b24sync.apply(_project(tmp_path), emu, report=tmp_path / "r.json")
    assert written == ["2"]
    assert applied.status == "failed"
    ids = _ids(emu, "2")
    assert len(ids) == 2
    entries = {entry.command_key: entry for entry in applied.report.steps}
    duplicate = entries["contact_2"]
    assert duplicate.status == "failed" and duplicate.error_code == "DUPLICATE_AFTER_RUN"
    assert duplicate.created_id in ids  # the write did happen: its id stays in the entry
    description = duplicate.error_description or ""
    assert f"ids {ids[0]}, {ids[1]}" in description and "'originId': '2'" in description
    assert "merge or delete the extra records" in description
    assert all(entries[k].status == "succeeded" for k in ("contact_1", "contact_3"))
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["status"] == "failed" and saved["totals"]["failed"] == 1
    # the field contract (2 requests), the state (1) and the re-read after the writes (1)
    assert saved["totals"]["read_requests"] == applied.report.totals.read_requests == 4


def test_the_cli_exits_1_naming_the_ids(tmp_path: Path) -> None:
    emu = Emulator()
    _concurrent_writer(emu, ("1", "3"))
    with emu.serve() as url:
        report = tmp_path / "r.json"
        result = CliRunner().invoke(
            main, ["apply", str(_project(tmp_path)), "--report", str(report), "--webhook", url]
        )
    assert result.exit_code == 1, result.output
    for origin_id in ("1", "3"):
        ids = _ids(emu, origin_id)
        assert len(ids) == 2
        assert f"ids {ids[0]}, {ids[1]}" in result.output
    assert "DUPLICATE_AFTER_RUN" in result.output
    assert url.split("/rest/")[1].split("/")[1] not in result.output  # the webhook code is never shown


def test_without_a_concurrent_writer_the_check_passes_for_few_requests(tmp_path: Path) -> None:
    emu = Emulator()
    applied = b24sync.apply(_project(tmp_path, rows=120), emu)
    assert applied.status == "succeeded"
    # the field contract (2 requests); the state: 3 list commands in 1 request; the re-read: the same
    assert applied.report.totals.read_requests == 4
    assert emu.stats()["by_method"]["crm.item.list"] == 6


def test_steps_that_are_not_upserts_are_not_read_again(tmp_path: Path) -> None:
    emu = Emulator()
    _concurrent_writer(emu, ("2",))
    applied = b24sync.apply(_project(tmp_path, PLAIN), emu)
    assert applied.status == "succeeded" and applied.report.totals.read_requests == 2  # the fields
    assert "crm.item.list" not in emu.stats()["by_method"]


def test_an_interrupted_run_is_not_checked(tmp_path: Path) -> None:
    emu = Emulator()
    _concurrent_writer(emu, ("2",))
    applied = b24sync.apply(_project(tmp_path, rows=120), emu, should_stop=lambda: True)
    assert applied.status == "interrupted"
    assert emu.stats()["by_method"].get("crm.item.list", 0) == 3  # the state only


def test_a_saved_plan_gets_its_match_values_when_checked(tmp_path: Path) -> None:
    emu = Emulator()
    path = _project(tmp_path)
    b24sync.plan(path, emu, out=tmp_path / "plan.json")
    assert "created_matches" not in (tmp_path / "plan.json").read_text()
    _concurrent_writer(emu, ("3",))
    applied = b24sync.apply(tmp_path / "plan.json", emu)
    assert applied.status == "failed"
    assert {e.command_key for e in applied.report.steps if e.error_code == "DUPLICATE_AFTER_RUN"} == {
        "contact_3"
    }


def test_a_re_read_that_fails_says_the_duplicates_were_not_checked(tmp_path: Path) -> None:
    emu = Emulator()
    handle: Callable[[HttpRequest], HttpResponse] = emu.handle
    writes: list[bytes] = []

    def refuse_after_the_writes(request: HttpRequest) -> HttpResponse:
        if writes and b"crm.item.list" in request.body:  # the re-read after the run
            return HttpResponse(
                401, b'{"error":"expired_token","error_description":"The access token expired"}'
            )
        if b"crm.item.add" in request.body:
            writes.append(request.body)
        return handle(request)

    emu.handle = refuse_after_the_writes  # type: ignore[method-assign]
    applied = b24sync.apply(_project(tmp_path), emu, report=tmp_path / "r.json")
    assert writes and applied.status == "succeeded"  # the writes stand as the run saw them
    assert len(applied.warnings) == 1
    assert applied.warnings[0].startswith("could not read the portal again to look for records")
