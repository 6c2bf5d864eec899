"""Step selection with dbt's graph syntax, over links and depends_on."""

from __future__ import annotations

import pytest

from b24sync.errors import UsageError
from b24sync.pipeline.loader import Pipeline, load_pipeline
from b24sync.planning.select import select_steps, step_graph

# company <- contact <- deal <- note; tasks depends_on deal; audit stands alone
PIPELINE = """\
version: 1
name: graph
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
  - id: contact
    method: crm.item.add
    params: {entityTypeId: 3, fields: {companyId: "{{ steps.company.item.id }}"}}
  - id: deal
    method: crm.item.add
    params: {entityTypeId: 2, fields: {contactId: "{{ steps.contact.item.id }}"}}
  - id: note
    method: crm.timeline.comment.add
    params: {fields: {ENTITY_ID: "{{ steps.deal.item.id }}", ENTITY_TYPE: deal, COMMENT: hi}}
  - id: tasks
    method: tasks.task.add
    params: {fields: {TITLE: Call}}
    depends_on: [deal]
  - id: audit
    method: crm.item.list
    params: {entityTypeId: 4}
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    path = tmp_path_factory.mktemp("select") / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    return load_pipeline(str(path))


def kept(pipeline: Pipeline, select: list[str], exclude: list[str] | None = None) -> list[str]:
    return list(select_steps(pipeline, select, exclude or ()).kept)


def test_the_step_graph_follows_links_and_depends_on(pipeline: Pipeline) -> None:
    assert step_graph(pipeline) == {
        "company": set(), "contact": {"company"}, "deal": {"contact"}, "note": {"deal"},
        "tasks": {"deal"}, "audit": set(),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        (["contact"], ["contact"]),
        (["contact+"], ["contact", "deal", "note", "tasks"]),
        (["+deal"], ["company", "contact", "deal"]),
        (["+deal+"], ["company", "contact", "deal", "note", "tasks"]),
        (["contact+1"], ["contact", "deal"]),
        (["1+deal"], ["contact", "deal"]),
        (["company audit"], ["company", "audit"]),
        (["company", "audit"], ["company", "audit"]),
        (["contact+,+note"], ["contact", "deal", "note"]),
        (["*t"], ["contact", "audit"]),
    ],
)
def test_selectors(pipeline: Pipeline, select: list[str], expected: list[str]) -> None:
    assert kept(pipeline, select) == [
        s for s in ["company", "contact", "deal", "note", "tasks", "audit"] if s in expected
    ]


def test_exclude_is_applied_after_select(pipeline: Pipeline) -> None:
    selection = select_steps(pipeline, ["contact+"], ["note tasks"])
    assert selection.kept == ("contact", "deal")
    assert selection.left_out == ("company", "note", "tasks", "audit")
    assert selection.why == "--select contact+ --exclude note tasks"
    assert kept(pipeline, [], ["audit"]) == ["company", "contact", "deal", "note", "tasks"]


def test_an_unknown_step_gets_the_closest_name(pipeline: Pipeline) -> None:
    with pytest.raises(
        UsageError, match=r"--select contcat\+: no step 'contcat' \(did you mean 'contact'\?\)"
    ):
        select_steps(pipeline, ["contcat+"])


def test_a_bad_selector_says_what_is_allowed(pipeline: Pipeline) -> None:
    with pytest.raises(UsageError, match="is not a selector; write STEP, STEP"):
        select_steps(pipeline, ["contact@2"])


def test_a_selection_of_nothing_is_an_error(pipeline: Pipeline) -> None:
    with pytest.raises(UsageError, match="leaves no step to run"):
        select_steps(pipeline, ["audit"], ["audit"])
