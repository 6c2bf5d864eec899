"""Upserts keyed by e-mail or phone, with multifields that converge, end to end on the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.emulator import Emulator

PIPELINE = """\
version: 1
name: people
steps:
  - id: contact
    for_each: {file: people.csv}
    key: "{{ item.email }}"
    upsert:
      entity: contact
      match: {email: "{{ item.email }}"}
      fm_mode: %s
      fields:
        name: "{{ item.name }}"
        fm:
          - {typeId: EMAIL, valueType: WORK, value: "{{ item.email }}"}
          - {typeId: PHONE, valueType: MOBILE, value: "{{ item.phone }}"}
"""
PEOPLE = [
    ("ann@example.com", "Ann", "+7 (999) 123-45-67"),
    ("bob@example.com", "Bob", "+1 555 0100"),
    ("cid@example.com", "Cid", ""),
]


def write(tmp_path: Path, rows: list[tuple[str, str, str]] = PEOPLE, mode: str = "add") -> Path:
    lines = ["email,name,phone", *(",".join(row) for row in rows)]
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = tmp_path / "people.yaml"
    path.write_text(PIPELINE % mode, encoding="utf-8")
    return path


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--webhook", url], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def writes(emu: Emulator) -> int:
    by_method: dict[str, int] = emu.stats()["by_method"]
    return sum(n for method, n in by_method.items() if method.endswith((".add", ".update", ".delete")))


def add_contact(url: str, fm: list[dict[str, str]], name: str = "Ann (imported)") -> int:
    reply = requests.post(
        url + "crm.item.add", json={"entityTypeId": 3, "fields": {"name": name, "fm": fm}}, timeout=10
    ).json()
    return int(reply["result"]["item"]["id"])


def values(contact: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((entry["typeId"], entry["value"]) for entry in contact["fm"])


def test_three_runs_with_a_contact_that_existed_end_with_each_value_once(tmp_path: Path) -> None:
    emu = Emulator()
    path = write(tmp_path)
    with emu.serve() as url:
        # Ann was in the portal before the first run, her e-mail in another spelling and no phone
        ann = add_contact(url, [{"typeId": "EMAIL", "valueType": "HOME", "value": " ANN@Example.com"}])
        code, _, err = run(url, "apply", str(path), "--report", str(tmp_path / "r1.json"))
        assert code == 0, err
        contacts = {c["name"]: c for c in emu.store.items(3)}
        assert len(contacts) == 3 and contacts["Ann"]["id"] == ann
        assert values(contacts["Ann"]) == [("EMAIL", " ANN@Example.com"), ("PHONE", "+7 (999) 123-45-67")]
        assert values(contacts["Bob"]) == [("EMAIL", "bob@example.com"), ("PHONE", "+1 555 0100")]
        assert values(contacts["Cid"]) == [("EMAIL", "cid@example.com")]
        for attempt in (2, 3):
            before = writes(emu)
            assert run(url, "plan", str(path), "--detailed-exitcode")[0] == 0
            code, out, _ = run(url, "apply", str(path), "--report", str(tmp_path / f"r{attempt}.json"))
            assert code == 0 and "3 of 3 steps succeeded" in out
            assert writes(emu) == before
        assert {c["name"]: values(c) for c in emu.store.items(3)} == {
            name: values(contact) for name, contact in contacts.items()
        }


def test_the_update_sends_only_the_missing_entries_in_the_object_form(tmp_path: Path) -> None:
    emu = Emulator()
    with emu.serve() as url:
        ann = add_contact(url, [{"typeId": "EMAIL", "valueType": "WORK", "value": "ann@example.com"}], "Ann")
        code, out, _ = run(url, "plan", str(write(tmp_path, PEOPLE[:1])), "--format", "json")
        assert code == 0
        (command,) = [c for b in json.loads(out)["batches"] for c in b["commands"]]
        assert command["method"] == "crm.item.update" and command["record_id"] == ann
        assert command["params"]["fields"] == {
            "fm": {"n0": {"typeId": "PHONE", "valueType": "MOBILE", "value": "+7 (999) 123-45-67"}}
        }
        _, text, _ = run(url, "plan", str(write(tmp_path, PEOPLE[:1])), "--diff")
        assert (
            'fm: ["EMAIL ann@example.com"] -> ["EMAIL ann@example.com", "PHONE +7 (999) 123-45-67"]' in text
        )


def test_replace_deletes_the_other_entries_of_the_named_types_by_id(tmp_path: Path) -> None:
    emu = Emulator()
    with emu.serve() as url:
        add_contact(
            url,
            [
                {"typeId": "EMAIL", "value": "ann@example.com"},
                {"typeId": "EMAIL", "value": "ann@example.com"},
                {"typeId": "PHONE", "value": "+7 000 000"},
                {"typeId": "WEB", "value": "ann.example.com"},
            ],
        )
        path = write(tmp_path, PEOPLE[:1], mode="replace")
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r1.json"))[0] == 0
        (contact,) = emu.store.items(3)
        assert values(contact) == [
            ("EMAIL", "ann@example.com"),
            ("PHONE", "+7 (999) 123-45-67"),
            ("WEB", "ann.example.com"),
        ]
        before = writes(emu)
        assert run(url, "plan", str(path), "--detailed-exitcode")[0] == 0
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r2.json"))[0] == 0
        assert writes(emu) == before


def test_a_phone_matches_in_any_spelling(tmp_path: Path) -> None:
    emu = Emulator()
    path = tmp_path / "by-phone.yaml"
    (tmp_path / "people.csv").write_text("phone,name\n79991234567,Ann\n", encoding="utf-8")
    path.write_text(
        PIPELINE.replace('match: {email: "{{ item.email }}"}', 'match: {phone: "{{ item.phone }}"}')
        .replace('key: "{{ item.email }}"', 'key: "{{ item.phone }}"')
        .replace("      fm_mode: %s\n", "")
        .replace('          - {typeId: EMAIL, valueType: WORK, value: "{{ item.email }}"}\n', ""),
        encoding="utf-8",
    )
    with emu.serve() as url:
        ann = add_contact(url, [{"typeId": "PHONE", "value": "+7 (999) 123-45-67"}])
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r.json"))[0] == 0
        (contact,) = emu.store.items(3)
        assert contact["id"] == ann and contact["name"] == "Ann"
        assert values(contact) == [("PHONE", "+7 (999) 123-45-67")]


@pytest.mark.parametrize(
    ("on_conflict", "code", "names"),
    [("fail", 1, ["one", "two"]), ("skip", 1, ["one", "two"]), ("oldest", 0, ["Ann", "two"])],
)
def test_on_conflict_chooses_what_two_matching_records_do(
    tmp_path: Path, on_conflict: str, code: int, names: list[str]
) -> None:
    emu = Emulator()
    path = write(tmp_path, PEOPLE[:1])
    path.write_text(
        path.read_text(encoding="utf-8").replace("fm_mode: add", f"on_conflict: {on_conflict}"),
        encoding="utf-8",
    )
    with emu.serve() as url:
        for name in ("one", "two"):
            add_contact(url, [{"typeId": "EMAIL", "value": "Ann@example.com"}], name)
        result = run(url, "plan", str(path), "--detailed-exitcode")
        assert result[0] == (1 if on_conflict == "fail" else 2 if on_conflict == "oldest" else 0)
        assert run(url, "apply", str(path), "--report", str(tmp_path / "r.json"))[0] == code
        assert [c["name"] for c in emu.store.items(3)] == names
        report = json.loads((tmp_path / "r.json").read_text())
        (step,) = report["steps"]
        assert step["status"] == {"fail": "failed", "skip": "skipped", "oldest": "succeeded"}[on_conflict]


def test_reading_by_email_costs_findbycomm_then_reads_by_id(tmp_path: Path) -> None:
    emu = Emulator()
    rows = [(f"p{i}@example.com", f"P{i}", "") for i in range(45)]
    path = write(tmp_path, rows)
    with emu.serve() as url:
        for i in range(0, 45, 2):
            add_contact(url, [{"typeId": "EMAIL", "value": f"P{i}@Example.com"}], f"P{i}")
        before = dict(emu.stats()["by_method"])
        requests_before = emu.stats()["requests"]
        assert run(url, "plan", str(path))[0] == 0
        by_method = emu.stats()["by_method"]
        # 45 values: 3 findbycomm commands (20 a command), 23 records read in 1 crm.item.list
        assert by_method["crm.duplicate.findbycomm"] - before.get("crm.duplicate.findbycomm", 0) == 3
        assert by_method["crm.item.list"] - before.get("crm.item.list", 0) == 1
        # 2 requests read the field contract, then 1 findbycomm request and 1 read by id
        assert emu.stats()["requests"] - requests_before == 2 + 2


@pytest.mark.parametrize(
    ("upsert", "message"),
    [
        (
            "{entity: deal, match: {email: a@b.c}}",
            "steps[0].upsert.match.email: match by email finds leads, contacts and companies only",
        ),
        (
            "{entity: contact, match: {originId: '1'}, fm_mode: replace}",
            "steps[0].upsert.fm_mode: fm_mode replaces the entries of fields.fm: add fm to fields",
        ),
        (
            "{entity: contact, match: {originId: '1'}, fields: {fm: [{value: a@b.c}]}}",
            "steps[0].upsert.fields.fm[0]: an fm entry needs typeId, one of PHONE, EMAIL, WEB, IM, LINK",
        ),
        (
            "{entity: contact, match: {originId: '1'}, fields: {fm: \"{{ steps.x.item.id }}\"}}",
            "steps[0].upsert.fields.fm: fm must be known before apply",
        ),
    ],
)
def test_upserts_b24sync_cannot_compare_are_refused_at_their_line(
    tmp_path: Path, upsert: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"version: 1\nname: x\nsteps:\n  - id: c\n    upsert: {upsert}\n  - id: x\n    method: crm.item.add\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:5:" in result.stderr and message in result.stderr, result.stderr


def test_delete_missing_with_an_email_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + "    delete_missing: true\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "delete_missing tells this source's records apart by fields" in result.stderr
