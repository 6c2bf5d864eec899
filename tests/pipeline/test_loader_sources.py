"""The loader with sources and lookups: options of for_each, lookups in templates, offline portal sources."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import PipelineError
from b24sync.pipeline import load_pipeline
from b24sync.pipeline.template import LinkRef, Text


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def problems(path: str, **options: object) -> list[str]:
    with pytest.raises(PipelineError) as caught:
        load_pipeline(path, **options)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def test_csv_options_beside_file_are_keys_not_typos(tmp_path: Path) -> None:
    write(tmp_path, "people.csv", "name;email\nАнна;anna@example.com\n".encode("cp1251"))
    path = write(
        tmp_path,
        "p.yaml",
        "version: 1\nname: p\nsteps:\n  - id: c\n    for_each: {file: people.csv, delimiter: ';', encoding: cp1251}\n"
        "    method: crm.item.add\n    params: {fields: {name: '{{ item.name }}'}}\n",
    )
    pipeline = load_pipeline(path)
    assert pipeline.steps[0].expansion.instances[0].params == {"fields": {"name": "Анна"}}
    (read,) = pipeline.sources
    assert (read.where, read.rows, read.details) == (
        "steps[0].for_each",
        1,
        ("delimiter ';' given", "encoding Windows-1251 (cp1251) given"),
    )
    path = write(
        tmp_path,
        "q.yaml",
        "version: 1\nname: p\nsteps:\n  - {id: c, method: m.list, for_each: {file: people.csv, delimitr: ';'}}\n",
    )
    assert problems(path) == [
        f"{path}:4:58: steps[0].for_each.delimitr: unknown key 'delimitr' (did you mean 'delimiter'?)"
    ]


def test_a_source_problem_points_at_the_key_to_fix(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "a\n1\n")
    path = write(
        tmp_path,
        "p.yaml",
        "version: 1\nname: p\nsteps:\n  - id: c\n    method: m.list\n    for_each: {file: a.csv, encoding: klingon}\n",
    )
    assert problems(path) == [
        f"{path}:6:39: steps[0].for_each.encoding: unknown encoding 'klingon': use a Python codec name such as utf-8, cp1251 or utf-16"
    ]


LOOKUP = """version: 1
name: p
lookups:
  managers:
    file: managers.csv
    key: "{{ row.email | lower }}"
steps:
  - id: deal
    for_each: {file: deals.csv}
    key: "{{ item.title }}"
    when: "{{ lookups.managers[item.manager | lower].active == 'Y' }}"
    method: crm.item.add
    params:
      fields:
        title: "{{ item.title }}"
        assignedById: "{{ lookups.managers[item.manager | lower].id }}"
"""


def test_lookups_are_plain_values_in_when_and_params(tmp_path: Path) -> None:
    write(tmp_path, "managers.csv", "id,email,active\n7,Ann@X.org,Y\n8,bob@x.org,N\n,,\n")
    write(tmp_path, "deals.csv", "title,manager\nA,ann@x.org\nB,BOB@x.org\n")
    pipeline = load_pipeline(write(tmp_path, "p.yaml", LOOKUP))
    (instance,) = pipeline.steps[0].expansion.instances
    assert (instance.name, instance.params) == ("A", {"fields": {"title": "A", "assignedById": "7"}})
    assert [s.where for s in pipeline.sources] == ["lookups.managers", "steps[0].for_each"]


def test_a_missing_lookup_key_is_reported_at_the_data_row_with_the_closest_key(tmp_path: Path) -> None:
    write(tmp_path, "managers.csv", "id,email,active\n7,ann@x.org,Y\n")
    deals = write(tmp_path, "deals.csv", "title,manager\nA,ann@x.org\nB,ann@x.orq\nC,ann@x.orq\n")
    assert problems(write(tmp_path, "p.yaml", LOOKUP)) == [
        f"{deals}:3:1: steps[0].when: lookup 'managers' has no key 'ann@x.orq' (did you mean 'ann@x.org'?) (and 1 more rows)"
    ]


def test_a_default_in_the_template_covers_a_missing_key(tmp_path: Path) -> None:
    write(tmp_path, "managers.csv", "id,email\n7,ann@x.org\n")
    write(tmp_path, "deals.csv", "title,manager\nA,ann@x.org\nB,nobody@x.org\n")
    text = LOOKUP.replace(
        "    when: \"{{ lookups.managers[item.manager | lower].active == 'Y' }}\"\n", ""
    ).replace(
        "lookups.managers[item.manager | lower].id }}",
        "(lookups.managers[item.manager] | default({'id': 1})).id }}",
    )
    pipeline = load_pipeline(write(tmp_path, "p.yaml", text))
    assert [i.params["fields"]["assignedById"] for i in pipeline.steps[0].expansion.instances] == ["7", 1]  # type: ignore[index]


def test_two_rows_with_one_key_are_an_error(tmp_path: Path) -> None:
    managers = write(tmp_path, "managers.csv", "id,email,active\n7,ann@x.org,Y\n8,ANN@x.org,Y\n")
    write(tmp_path, "deals.csv", "title,manager\n")
    assert problems(write(tmp_path, "p.yaml", LOOKUP)) == [
        f"{managers}:3:1: lookups.managers.key: lookup 'managers' has two rows with the key 'ann@x.org' "
        f"({managers}:2 and {managers}:3): make the key unique or filter the rows"
    ]


PORTAL = """version: 1
name: p
lookups:
  users:
    portal: {method: user.get, params: {filter: {ACTIVE: true}}}
    key: "{{ row.EMAIL }}"
steps:
  - id: deal
    for_each:
      portal: {method: crm.item.list, params: {entityTypeId: 2, filter: {stageId: "{{ vars.stage }}"}, select: [id]}}
    key: "{{ item.id }}"
    method: crm.item.update
    params: {entityTypeId: 2, id: "{{ item.id }}", fields: {assignedById: "{{ lookups.users['anna@example.com'].ID }}"}}
  - id: note
    for_each: "{{ [1] }}"
    method: crm.timeline.comment.add
    params: {fields: {ENTITY_ID: "{{ steps.deal['5'].item.id }}"}}
  - id: me
    method: user.current
vars: {stage: NEW}
"""


def test_without_a_portal_portal_sources_are_checked_but_not_read(tmp_path: Path) -> None:
    pipeline = load_pipeline(write(tmp_path, "p.yaml", PORTAL))
    assert pipeline.pending == ("deal", "note")
    assert [len(s.expansion.instances) for s in pipeline.steps] == [0, 0, 1]
    bad = PORTAL.replace('id: "{{ item.id }}",', 'id: "{{ item.id }",').replace(
        "method: user.get", "method: user.add"
    )
    found = problems(write(tmp_path, "q.yaml", bad))
    assert any("a portal source only reads: 'user.add'" in p for p in found)
    assert any("steps[0].params.id: template syntax error" in p for p in found), found


def test_with_a_portal_its_rows_become_instances(tmp_path: Path) -> None:
    emulator = Emulator()
    client = B24Hook(emulator.webhook_url, session=emulator.mount(requests.Session()), rate_limit=None)
    for title in ("a", "b"):
        client.call_method("crm.item.add", {"entityTypeId": 2, "fields": {"title": title, "stageId": "NEW"}})
    client.call_method("crm.item.add", {"entityTypeId": 2, "fields": {"title": "c", "stageId": "WON"}})
    pipeline = load_pipeline(
        write(tmp_path, "p.yaml", PORTAL.replace("['5']", "['1']")), portal=lambda: client
    )
    deal = pipeline.steps[0].expansion.instances
    assert [(i.name, i.params["fields"]) for i in deal] == [
        ("1", {"assignedById": "2"}),
        ("2", {"assignedById": "2"}),
    ]
    assert [(s.where, s.rows, s.requests) for s in pipeline.sources] == [
        ("lookups.users", 3, 1),
        ("steps[0].for_each", 2, 1),
    ]
    (link,) = pipeline.steps[1].expansion.instances[0].links
    assert link.ref == LinkRef("deal", "1", ("item", "id"))


def test_steps_index_a_bare_list_result(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        "version: 1\nname: p\nsteps:\n  - {id: user, method: user.get, params: {FILTER: {EMAIL: anna@example.com}}}\n"
        "  - id: deal\n    method: crm.item.add\n    params: {entityTypeId: 2, fields: {assignedById: '{{ steps.user[0].ID }}'}}\n",
    )
    (instance,) = load_pipeline(path).steps[1].expansion.instances
    assert instance.params["fields"] == {"assignedById": Text((LinkRef("user", None, (0, "ID")),))}


def test_rows_stream_unless_a_template_needs_their_number(tmp_path: Path) -> None:
    write(tmp_path, "a.csv", "n\n1\n2\n")
    base = 'version: 1\nname: p\nsteps:\n  - id: s\n    for_each: {file: a.csv}\n    method: m.list\n    params: {x: "{{ %s }}"}\n'
    assert [
        i.params
        for i in load_pipeline(write(tmp_path, "p.yaml", base % "loop.index")).steps[0].expansion.instances
    ] == [{"x": 1}, {"x": 2}]
    counted = load_pipeline(write(tmp_path, "q.yaml", base % "loop.revindex ~ '/' ~ loop.length"))
    assert [i.params for i in counted.steps[0].expansion.instances] == [{"x": "2/2"}, {"x": "1/2"}]
