"""Sources through the workflow: read when planning, kept in the saved plan, never leaking a URL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import requests

import b24sync
from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import UsageError
from b24sync.run.workflow import plan_json

ROOT = Path(__file__).resolve().parents[2]
ADVANCE = ROOT / "pipelines" / "advance-new-deals.yaml"


def seeded() -> tuple[Emulator, B24Hook]:
    emulator = Emulator()
    hook = B24Hook(emulator.webhook_url, session=emulator.mount(requests.Session()), rate_limit=None)
    for title, stage in (("a", "NEW"), ("b", "WON"), ("c", "NEW")):
        assert hook.call_method(
            "crm.item.add", {"entityTypeId": 2, "fields": {"title": title, "stageId": stage}}
        ).is_success
    return emulator, hook


def test_a_saved_plan_keeps_the_rows_it_was_made_from(tmp_path: Path) -> None:
    emulator, hook = seeded()
    out = tmp_path / "plan.json"
    the_plan = b24sync.plan(str(ADVANCE), emulator, out=str(out))
    (source,) = the_plan.sources
    assert source.describe() == "read 2 rows from crm.item.list in 1 request"
    rows: list[dict[str, object]] = list(source.rows or ())  # type: ignore[arg-type]
    assert [row["title"] for row in rows] == ["a", "c"]
    saved = json.loads(out.read_text(encoding="utf-8"))["sources"][0]
    assert (saved["where"], saved["kind"], saved["count"], len(saved["sha256"])) == (
        "steps[0].for_each",
        "portal",
        2,
        64,
    )
    applied = b24sync.apply(str(out), emulator)
    assert applied.status == "succeeded"
    stages = {
        d["title"]: d["stageId"]
        for d in hook.call_method("crm.item.list", {"entityTypeId": 2}).get_data()["items"]
    }
    assert stages == {"a": "PREPARATION", "b": "WON", "c": "PREPARATION"}


def test_planning_a_portal_source_without_a_portal_says_what_to_pass() -> None:
    with pytest.raises(UsageError, match="upsert steps and portal sources read the portal"):
        b24sync.plan(str(ADVANCE))


def test_the_database_url_is_in_no_plan_and_no_report(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as connection:
        connection.execute("create table c (id integer, name text)")
        connection.execute("insert into c values (1, 'Ann')")
    connection.close()
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nname: p\nsteps:\n  - id: c\n    for_each: {sql: {url_env: SHOP_DB, query: 'select * from c'}}\n"
        "    method: crm.item.add\n    params: {entityTypeId: 3, fields: {name: '{{ item.name }}'}}\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{db}"
    environ = {"SHOP_DB": url}
    applied = b24sync.apply(str(path), Emulator(), environ=environ, report=str(tmp_path / "report.json"))
    assert applied.status == "succeeded"
    texts = [plan_json(applied.plan), (tmp_path / "report.json").read_text(encoding="utf-8")]
    assert all(url not in text and str(db) not in text for text in texts)
    assert applied.plan.sources[0].describe() == "read 1 row from the database in SHOP_DB (sqlite)"
