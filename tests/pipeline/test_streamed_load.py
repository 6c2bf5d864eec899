"""``load_pipeline(stream_above=N)``: a data file of up to N rows loads exactly as without it; above
N its instances are rendered again on each iteration, the same ones, and a changed file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b24sync.errors import DataChanged, PipelineError
from b24sync.pipeline.instances import StreamedInstances
from b24sync.pipeline.loader import load_pipeline

PIPELINE = """\
version: 1
name: streamed load
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.email }}"
    when: "{{ item.keep == 'yes' }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}"}}
  - id: note
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: "{{ steps.contact['p1@x.org'].item.id }}"}}
"""


def _project(folder: Path, rows: int, links: bool = True) -> Path:
    lines = "".join(f"P {i},p{i}@x.org,{'no' if i % 5 == 4 else 'yes'}\n" for i in range(rows))
    (folder / "rows.csv").write_text("name,email,keep\n" + lines, encoding="utf-8")
    text = PIPELINE if links else PIPELINE[: PIPELINE.index("  - id: note")]
    (folder / "p.yaml").write_text(text, encoding="utf-8")
    return folder / "p.yaml"


def _instances(path: Path, stream_above: int | None) -> list[object]:
    step = load_pipeline(str(path), stream_above=stream_above).steps[0]
    return [(i.name, i.params, i.links, i.origin, i.values) for i in step.expansion.instances]


@pytest.mark.parametrize("links", [True, False])
def test_up_to_the_limit_a_load_is_what_it_is_without_one(tmp_path: Path, links: bool) -> None:
    path = _project(tmp_path, 40, links)
    plain = load_pipeline(str(path))
    kept = load_pipeline(str(path), stream_above=40)
    assert not isinstance(kept.steps[0].expansion.instances, StreamedInstances)
    assert _instances(path, 40) == _instances(path, None)
    assert kept.steps[0].expansion.dropped == plain.steps[0].expansion.dropped != frozenset()
    assert kept.sources == plain.sources


def test_above_the_limit_the_same_instances_come_again_on_every_iteration(tmp_path: Path) -> None:
    path = _project(tmp_path, 400, links=False)
    streamed = load_pipeline(str(path), stream_above=100).steps[0].expansion.instances
    assert isinstance(streamed, StreamedInstances) and len(streamed) == 320
    expected = _instances(path, None)
    assert [(i.name, i.params, i.links, i.origin, i.values) for i in streamed] == expected
    assert [(i.name, i.params, i.links, i.origin, i.values) for i in streamed] == expected  # and again
    assert streamed[0].name == "p0@x.org" and streamed[-1].name == "p398@x.org"
    with pytest.raises(IndexError):
        streamed[320]


def test_a_step_linked_into_by_name_is_kept_whatever_its_size(tmp_path: Path) -> None:
    path = _project(tmp_path, 400, links=True)
    step = load_pipeline(str(path), stream_above=100).steps[0]
    assert not isinstance(step.expansion.instances, StreamedInstances)
    assert len(step.expansion.instances) == 320


def test_a_duplicate_past_the_limit_is_reported_with_both_rows(tmp_path: Path) -> None:
    path = _project(tmp_path, 400, links=False)
    with (tmp_path / "rows.csv").open("a", encoding="utf-8") as rows:
        rows.write("Again,p7@x.org,yes\n")
    with pytest.raises(
        PipelineError, match=r"duplicate key 'p7@x.org' \(first at for_each .*rows.csv:9, again at"
    ):
        load_pipeline(str(path), stream_above=100)


def test_a_file_changed_between_two_reads_is_refused_at_the_changed_row(tmp_path: Path) -> None:
    path = _project(tmp_path, 400, links=False)
    streamed = load_pipeline(str(path), stream_above=100).steps[0].expansion.instances
    rows = tmp_path / "rows.csv"
    rows.write_text(rows.read_text(encoding="utf-8").replace("p200@x.org", "p2000@x.org"), encoding="utf-8")
    seen: list[str | None] = []
    with pytest.raises(DataChanged, match=r"rows\.csv changed during the run"):
        for instance in streamed:
            seen.append(instance.name)
    assert seen[-1] == "p198@x.org"  # all before the changed row (p199 is dropped by when), none after


def test_a_row_past_the_limit_that_does_not_render_is_the_same_problem(tmp_path: Path) -> None:
    # past the instances it keeps, the first pass still renders every value of every row: a row
    # that lacks a field fails the load before anything is sent, as it does without a limit
    rows = [{"email": f"p{i}@x.org", "name": f"N{i}"} for i in range(30)]
    del rows[25]["name"]
    (tmp_path / "rows.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    step = PIPELINE[: PIPELINE.index("  - id: note")].replace("rows.csv", "rows.json")
    (tmp_path / "p.yaml").write_text(step.replace("    when: \"{{ item.keep == 'yes' }}\"\n", ""))
    shown = []
    for limit in (None, 10):
        with pytest.raises(PipelineError) as raised:
            load_pipeline(str(tmp_path / "p.yaml"), stream_above=limit)
        shown.append([str(problem) for problem in raised.value.problems])
    assert shown[0] == shown[1] and len(shown[0]) == 1
    assert "no key 'name'" in shown[0][0] and "rows.json:" in shown[0][0]
