"""The field contract from the user's side: refused at the field's line, before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.emulator import Emulator

TYPO = """\
version: 1
name: people
steps:
  - id: contact
    for_each: [{email: ann@example.com, name: Ann, surname: Lee}]
    key: "{{ item.email }}"
    upsert:
      entity: contact
      match: {email: "{{ item.email }}"}
      fields:
        name: "{{ item.name }}"
        lastname: "{{ item.surname }}"
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main, list(args), catch_exceptions=False, env={"B24_WEBHOOK_URL": None, "CI": None}
    )
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "people.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_misspelt_field_is_refused_at_its_line_with_only_the_field_reads_sent(tmp_path: Path) -> None:
    emu = Emulator()
    path = write(tmp_path, TYPO)
    with emu.serve() as url:
        for command in ("plan", "apply"):
            code, _, err = (
                invoke(command, str(path), "--webhook", url, "--report", str(tmp_path / "r.json"))[:3]
                if command == "apply"
                else invoke(command, str(path), "--webhook", url)
            )
            assert code == 2
            assert err == (
                f"{path}:12:9: steps[0].upsert.fields.lastname: unknown field 'lastname' of contact "
                "(crm.item) (did you mean 'lastName'?): the portal would drop it\n"
            )
        by_method = emu.stats()["by_method"]
    # two runs, each: one batch of field reads and one of status lists, nothing else
    assert by_method == {"batch": 4, "crm.item.fields": 2, "crm.status.list": 6}
    assert emu.store.items(3) == []


def test_no_contract_lets_the_portal_drop_the_field(tmp_path: Path) -> None:
    emu = Emulator()
    path = write(tmp_path, TYPO)
    with emu.serve() as url:
        code, _, err = invoke(
            "apply", str(path), "--webhook", url, "--report", str(tmp_path / "r.json"), "--no-contract"
        )
    assert code == 0, err
    (contact,) = emu.store.items(3)
    assert contact["lastName"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("{LAST_NAME: Lee}", "unknown field 'LAST_NAME' of contact (crm.item) (did you mean 'lastName'?)"),
        (
            "{createdTime: '2024-01-01'}",
            "'createdTime' of contact (crm.item) is read-only: the portal ignores it",
        ),
        ("{typeId: CUSTOMER}", "'CUSTOMER' is not a value of typeId of contact (crm.item)"),
        ("{sourceId: Website}", "'Website' is the name of sourceId 'WEB' of contact (crm.item): send 'WEB'"),
        ("{honorific: HNR_EN_1, typeId: PARTNER, sourceId: WEB}", None),
    ],
)
def test_names_and_values_the_portal_would_not_keep_are_refused(
    tmp_path: Path, fields: str, message: str | None
) -> None:
    path = write(
        tmp_path,
        "version: 1\nname: x\nsteps:\n  - id: c\n    upsert: {entity: contact, match: {originId: '1'}, "
        f"fields: {fields}}}\n",
    )
    code, out, err = invoke("validate", str(path), "--emulator")
    if message is None:
        assert (code, out) == (0, f"{path}: ok\n"), err
    else:
        assert code == 2 and message in err and f"{path}:5:" in err, err


def test_required_fields_missing_from_a_create_and_stages_that_do_not_exist(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
version: 1
name: x
steps:
  - id: task
    method: tasks.task.add
    params: {fields: {TITLE: Call, PRIORITY: 7}}
  - id: deal
    method: crm.deal.add
    params: {fields: {TITLE: Order, STAGE_ID: C9:WON}}
""",
    )
    code, _, err = invoke("validate", str(path), "--emulator")
    assert code == 2
    assert err.splitlines() == [
        f"{path}:6:22: steps[0].params.fields: tasks.task requires 'RESPONSIBLE_ID' (responsibleId): "
        "creating a record without it fails",
        f"{path}:6:46: steps[0].params.fields.PRIORITY: '7' is not a value of PRIORITY of tasks.task; "
        "it takes 2, 1, 0",
        f"{path}:9:47: steps[1].params.fields.STAGE_ID: 'C9:WON' is not a value of STAGE_ID of crm.deal "
        "(did you mean 'WON'?); it takes NEW, PREPARATION, PREPAYMENT_INVOICE, EXECUTING, FINAL_INVOICE, "
        "WON, LOSE, APOLOGY",
    ]


def test_fields_save_writes_a_snapshot_that_validate_uses_offline(tmp_path: Path) -> None:
    good = write(tmp_path, TYPO.replace("lastname", "lastName"), "good.yaml")
    bad = write(tmp_path, TYPO, "bad.yaml")
    state = tmp_path / "portal.json"
    code, out, err = invoke("fields", str(good), "--emulator", "--emulator-state", str(state), "--save")
    assert code == 0, err
    snapshot = tmp_path / "b24sync.fields.json"
    assert out.splitlines()[-1] == f"wrote {snapshot} (1 pipeline)"
    saved = json.loads(snapshot.read_text(encoding="utf-8"))
    assert saved["entities"]["crm.item:3"]["fields"]["lastName"]["type"] == "string"
    assert [entry["id"] for entry in saved["statuses"]["SOURCE"]][:2] == ["CALL", "EMAIL"]
    # offline: no portal at all, the snapshot beside the files decides
    assert invoke("validate", str(good)) == (0, f"{good}: ok\n", "")
    code, _, err = invoke("validate", str(bad))
    assert code == 2 and "did you mean 'lastName'?" in err
    assert invoke("validate", str(bad), "--no-contract")[0] == 0
    # upserts still need a portal: in CI no default emulator stands in for it
    in_ci = CliRunner().invoke(main, ["plan", str(good)], env={"B24_WEBHOOK_URL": None, "CI": "true"})
    assert in_ci.exit_code == 2 and "upsert steps and portal sources read the portal" in in_ci.stderr


def test_a_snapshot_without_the_entity_says_to_read_it_again(tmp_path: Path) -> None:
    path = write(tmp_path, TYPO.replace("entity: contact", "entity: company").replace("lastname", "title"))
    (tmp_path / "b24sync.fields.json").write_text('{"version": 1}', encoding="utf-8")
    code, _, err = invoke("validate", str(path))
    assert code == 2
    assert (
        "the field contract has no fields of crm.item:4: read the fields again with `b24sync fields --save`"
        in err
    )
    (tmp_path / "b24sync.fields.json").write_text("{not json", encoding="utf-8")
    code, _, err = invoke("validate", str(path))
    assert code == 2 and "is not a b24sync field snapshot" in err and "Traceback" not in err


def test_fields_needs_a_portal(tmp_path: Path) -> None:
    code, _, err = invoke("fields", str(write(tmp_path, TYPO)))
    assert code == 2 and "b24sync fields reads a portal" in err
