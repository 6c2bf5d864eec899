"""The contract check against a snapshot written by hand: every rule, each at its line. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.errors import Problem
from b24sync.fields.check import check_pipeline
from b24sync.fields.model import EntityFields, FieldInfo, FieldSnapshot, StatusEntry
from b24sync.pipeline import load_pipeline

SNAPSHOT = FieldSnapshot(
    entities={
        "crm.item:3": EntityFields(
            title="contact (crm.item)",
            names="camel",
            fields={
                "id": FieldInfo(type="integer", read_only=True, upper="ID"),
                "name": FieldInfo(type="string", upper="NAME"),
                "lastName": FieldInfo(type="string", upper="LAST_NAME"),
                "typeId": FieldInfo(type="crm_status", upper="TYPE_ID", status_type="CONTACT_TYPE"),
                "ufCrmSize": FieldInfo(
                    type="enumeration", upper="UF_CRM_SIZE", options={"41": "Small", "42": "Large"}
                ),
                "fm": FieldInfo(type="crm_multifield", multiple=True, upper="FM"),
                "originId": FieldInfo(type="string", upper="ORIGIN_ID"),
            },
        ),
        "crm.deal": EntityFields(
            title="crm.deal",
            names="upper",
            fields={
                "TITLE": FieldInfo(type="string", required=True),
                "CATEGORY_ID": FieldInfo(type="crm_category", immutable=True),
                "STAGE_ID": FieldInfo(type="crm_status", status_type="DEAL_STAGE"),
            },
        ),
    },
    statuses={
        "CONTACT_TYPE": (
            StatusEntry(id="CLIENT", name="Clients"),
            StatusEntry(id="PARTNER", name="Partners"),
        ),
        "DEAL_STAGE": (StatusEntry(id="NEW", name="New"),),
        "DEAL_STAGE_2": (StatusEntry(id="C2:WON", name="Won"),),
    },
)


def check(tmp_path: Path, steps: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(f"version: 1\nname: p\nsteps:\n{steps}", encoding="utf-8")
    return [problem.message for problem in check_pipeline(load_pipeline(str(path)), SNAPSHOT)]


UPSERT = "  - id: c\n    upsert:\n      entity: contact\n      match: {originId: '1'}\n      fields: %s\n"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("{name: Ann, lastName: Lee, typeId: PARTNER, ufCrmSize: 42}", []),
        ("{lastname: Lee}", ["unknown field 'lastname' of contact (crm.item) (did you mean 'lastName'?)"]),
        ("{LAST_NAME: Lee}", ["unknown field 'LAST_NAME' of contact (crm.item) (did you mean 'lastName'?)"]),
        (
            "{UF_CRM_SIZE: 41}",
            ["unknown field 'UF_CRM_SIZE' of contact (crm.item) (did you mean 'ufCrmSize'?)"],
        ),
        ("{nmae: Ann}", ["unknown field 'nmae' of contact (crm.item) (did you mean 'name'?)"]),
        ("{zzz: 1}", ["unknown field 'zzz' of contact (crm.item): the portal would drop it"]),
        ("{id: 5}", ["'id' of contact (crm.item) is read-only: the portal ignores it"]),
        ("{ufCrmSize: Large}", ["'Large' is the name of ufCrmSize '42' of contact (crm.item): send '42'"]),
        (
            "{typeId: PARTNR}",
            ["'PARTNR' is not a value of typeId of contact (crm.item) (did you mean 'PARTNER'?)"],
        ),
    ],
)
def test_upsert_fields(tmp_path: Path, fields: str, expected: list[str]) -> None:
    found = check(tmp_path, UPSERT % fields)
    assert len(found) == len(expected)
    for message, start in zip(found, expected, strict=True):
        assert start in message


def test_a_problem_points_at_the_field_and_counts_the_rows_that_have_it(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nname: p\nsteps:\n  - id: c\n    for_each: [{t: X}, {t: CLIENT}, {t: Y}]\n"
        "    upsert:\n      entity: contact\n      match: {originId: '{{ item.t }}'}\n"
        "      fields: {typeId: '{{ item.t }}'}\n",
        encoding="utf-8",
    )
    problems: list[Problem] = check_pipeline(load_pipeline(str(path)), SNAPSHOT)
    assert [(p.line, p.col, p.location) for p in problems] == [
        (9, 24, "steps[0].upsert.fields.typeId"),
        (9, 24, "steps[0].upsert.fields.typeId"),
    ]
    assert problems[0].message.endswith("(for_each item 0)")


def test_old_methods_take_upper_names_required_ones_on_add_and_stages_of_every_pipeline(
    tmp_path: Path,
) -> None:
    found = check(
        tmp_path,
        "  - id: a\n    method: crm.deal.add\n    params: {fields: {title: x, STAGE_ID: C2:WON}}\n"
        "  - id: b\n    method: crm.deal.update\n    params: {id: 1, fields: {CATEGORY_ID: 2, STAGE_ID: C9:NEW}}\n",
    )
    assert found == [
        "crm.deal requires 'TITLE' (TITLE): creating a record without it fails",
        "unknown field 'title' of crm.deal (did you mean 'TITLE'?): the portal would drop it",
        "'CATEGORY_ID' of crm.deal is set only when a record is created",
        "'C9:NEW' is not a value of STAGE_ID of crm.deal (did you mean 'NEW'?); it takes NEW, C2:WON",
    ]


def test_an_entity_the_snapshot_lacks_or_the_portal_refused(tmp_path: Path) -> None:
    steps = "  - id: a\n    method: crm.item.add\n    params: {entityTypeId: 4, fields: {title: x}}\n"
    assert check(tmp_path, steps) == [
        "the field contract has no fields of crm.item:4: read the fields again with `b24sync fields --save`, "
        "or skip the check with --no-contract"
    ]
    path = tmp_path / "p.yaml"
    refused = SNAPSHOT.model_copy(update={"unread": ("crm.item:4",)})
    assert check_pipeline(load_pipeline(str(path)), refused) == []
    absent = SNAPSHOT.model_copy(update={"absent": ("crm.item:4",)})
    (problem,) = check_pipeline(load_pipeline(str(path)), absent)
    assert (
        problem.location == "steps[0].params.entityTypeId"
        and "the portal has no entity type 4" in problem.message
    )


def test_steps_that_write_nothing_checkable_are_left_alone(tmp_path: Path) -> None:
    steps = (
        "  - id: a\n    method: crm.item.list\n    params: {entityTypeId: 3}\n"
        "  - id: b\n    method: crm.item.add\n    params: {entityTypeId: '{{ vars.t }}', fields: {x: 1}}\n"
    )
    path = tmp_path / "p.yaml"
    path.write_text(f"version: 1\nname: p\nvars: {{t: 3}}\nsteps:\n{steps}", encoding="utf-8")
    assert check_pipeline(load_pipeline(str(path)), SNAPSHOT) == []
