"""A plan records its data (``pipeline.data_sha256``) and its portal (``pipeline.target``); ``--resume``
and a saved plan are refused when either differs, and old reports without them still resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import b24sync
from b24sync.cli import main
from b24sync.emulator import Emulator
from b24sync.errors import UsageError
from b24sync.run.journal import JournalWriter, journal_path
from b24sync.run.workflow import StalePlan

PLAIN = """\
version: 1
name: plain
steps:
  - id: contact
    for_each: {file: contacts.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}"}}
"""
UPSERT = """\
version: 1
name: shop
steps:
  - id: contact
    for_each: {file: contacts.csv}
    key: "{{ item.id }}"
    upsert:
      entity: contact
      match: {originatorId: shop, originId: "{{ item.id }}"}
      fields: {name: "{{ item.name }}"}
"""


def _project(tmp_path: Path, text: str = PLAIN, names: tuple[str, ...] = ("Ann", "Bob")) -> Path:
    _data(tmp_path, names)
    path = tmp_path / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _data(tmp_path: Path, names: tuple[str, ...]) -> None:
    lines = ["id,name", *(f"{i},{name}" for i, name in enumerate(names, start=1))]
    (tmp_path / "contacts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_plan_and_its_report_record_the_data_and_the_target(tmp_path: Path) -> None:
    emu = Emulator()
    path = _project(tmp_path, UPSERT)
    the_plan = b24sync.plan(path, emu, out=tmp_path / "plan.json")
    saved = json.loads((tmp_path / "plan.json").read_text())["pipeline"]
    assert saved["data_sha256"] == the_plan.pipeline.data_sha256 and len(saved["data_sha256"]) == 64
    assert saved["target"] == "https://emulator.b24sync.invalid/rest/1/***/"  # never the code
    applied = b24sync.apply(path, emu, report=tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["pipeline"]["data_sha256"] == the_plan.pipeline.data_sha256
    assert applied.report.pipeline.data_sha256 == the_plan.pipeline.data_sha256
    _data(tmp_path, ("Ann", "Bobby"))
    assert b24sync.plan(path, emu).pipeline.data_sha256 != the_plan.pipeline.data_sha256


def test_resume_of_a_report_made_from_other_data_is_refused(tmp_path: Path) -> None:
    emu = Emulator()
    path = _project(tmp_path)
    report = tmp_path / "r.json"
    assert b24sync.apply(path, emu, report=report).status == "succeeded"
    again = b24sync.apply(path, emu, report=tmp_path / "r2.json", resume=report)
    assert again.status == "succeeded" and again.report.totals.requests == 0  # same data: nothing sent
    _data(tmp_path, ("Ann", "Bobby"))
    before = len(emu.store.items(3))
    with pytest.raises(
        UsageError, match=r"r\.json is the report of a run of .* with other data: .*contacts\.csv"
    ):
        b24sync.apply(path, emu, resume=report)
    assert len(emu.store.items(3)) == before


def test_resume_of_a_journal_of_other_data_is_refused(tmp_path: Path) -> None:
    emu = Emulator()
    path = _project(tmp_path)
    report = tmp_path / "r.json"
    sha = b24sync.plan(path).pipeline.sha256
    writer = JournalWriter(journal_path(report))
    url = "https://emulator.b24sync.invalid/rest/1/***/"
    writer.start(
        "r" * 32, {"path": str(path), "sha256": sha, "data_sha256": "0" * 64}, url, "2026-01-01T00:00:00Z"
    )
    writer.close()
    with pytest.raises(UsageError, match=r"with other data: .*data sha256 000000000000"):
        b24sync.apply(path, emu, resume=report)


def test_an_old_report_without_the_data_sha256_still_resumes(tmp_path: Path) -> None:
    emu = Emulator()
    path = _project(tmp_path)
    report = tmp_path / "r.json"
    b24sync.apply(path, emu, report=report)
    old = json.loads(report.read_text())
    del old["pipeline"]["data_sha256"]  # as versions before it wrote reports
    report.write_text(json.dumps(old), encoding="utf-8")
    _data(tmp_path, ("Ann", "Bob", "Cid"))
    resumed = b24sync.apply(path, emu, resume=report)
    assert resumed.status == "succeeded"
    assert sorted(c["name"] for c in emu.store.items(3)) == ["Ann", "Bob", "Cid"]  # only the new row sent


def test_resume_against_another_portal_is_refused_in_one_line(tmp_path: Path) -> None:
    path = _project(tmp_path)
    report = tmp_path / "r.json"
    b24sync.apply(path, Emulator(), report=report)  # https://emulator.b24sync.invalid
    other = Emulator()
    with other.serve() as url:
        result = CliRunner().invoke(main, ["apply", str(path), "--webhook", url, "--resume", str(report)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "against another portal (https://emulator.b24sync.invalid/rest/1/***/" in lines[0]
    )
    assert "now http://127.0.0.1:" in lines[0] and "pass the webhook of that portal" in lines[0]
    assert not other.store.items(3)  # refused after reading the fields only: nothing written


def test_a_saved_upsert_plan_is_refused_against_another_portal(tmp_path: Path) -> None:
    path = _project(tmp_path, UPSERT)
    b24sync.plan(path, Emulator(), out=tmp_path / "plan.json")
    other = Emulator()
    with other.serve() as url:
        result = CliRunner().invoke(main, ["apply", str(tmp_path / "plan.json"), "--webhook", url])
    assert result.exit_code == 2, result.output
    assert (
        "was planned against https://emulator.b24sync.invalid/rest/1/***/, not http://127.0.0.1:"
        in result.stderr
    )
    assert not other.store.items(3)


def test_a_saved_plan_that_read_no_records_applies_to_any_portal(tmp_path: Path) -> None:
    path = _project(tmp_path)
    b24sync.plan(path, Emulator(), out=tmp_path / "plan.json")
    other = Emulator()
    with other.serve() as url:
        applied = b24sync.apply(tmp_path / "plan.json", url)
    assert applied.status == "succeeded" and len(other.store.items(3)) == 2


def test_a_saved_plan_whose_data_changed_is_stale_naming_the_file(tmp_path: Path) -> None:
    emu = Emulator()
    path = _project(tmp_path, UPSERT)
    b24sync.plan(path, emu, out=tmp_path / "plan.json")
    _data(tmp_path, ("Ann", "Bobby"))
    with pytest.raises(
        StalePlan, match=r"the data of .*sync\.yaml changed since it was planned \(.*contacts\.csv\)"
    ):
        b24sync.apply(tmp_path / "plan.json", emu)
    assert not emu.store.items(3)


def test_an_old_saved_plan_without_data_or_target_still_applies(tmp_path: Path) -> None:
    emu = Emulator()
    path = _project(tmp_path, UPSERT)
    b24sync.plan(path, emu, out=tmp_path / "plan.json")
    old = json.loads((tmp_path / "plan.json").read_text())
    del old["pipeline"]["data_sha256"], old["pipeline"]["target"]  # as versions before them wrote plans
    (tmp_path / "plan.json").write_text(json.dumps(old), encoding="utf-8")
    other = Emulator()
    with other.serve() as url:
        applied = b24sync.apply(tmp_path / "plan.json", url)  # no target recorded: not refused
    assert applied.status == "succeeded" and len(other.store.items(3)) == 2
