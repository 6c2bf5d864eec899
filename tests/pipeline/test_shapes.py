"""A step's compiled parameters give every instance exactly what ``TreeRenderer`` gives it."""

from __future__ import annotations

import gc

import pytest

from b24sync.client.encoding import encode_command
from b24sync.errors import PipelineError
from b24sync.pipeline import load_pipeline
from b24sync.pipeline.instances import Instance, Item, StepTemplates, expand
from b24sync.pipeline.shapes import compile_shape
from b24sync.pipeline.template import Renderer

PARAMS: dict[str, object] = {
    "entityTypeId": 3,
    "fields": {
        "name": "{{ item.name }}",
        "title": "Row {{ loop.index }}: {{ item.name }}",
        "companyId": "{{ steps.company.item.id }}",
        "token": "{{ secret('TOKEN') }}",
        "count": "{{ item.n }}",
        "tags": ["fixed", "{{ item.name }}"],
        "fm": {"n0": {"typeId": "EMAIL", "value": "{{ item.email }}"}},
    },
    "select": ["ID"],
}

ROWS = [
    {"name": "Ann Lee", "email": "ann@x.org", "n": 3},
    {"name": "Bo & Co #1", "email": "bo@x.org", "n": 1.5},
    {"name": "Иван", "email": "ivan@x.org", "n": None},
]


def renderer() -> Renderer:
    return Renderer(variables={}, environ={}, step_for_each={"company": False})


def expanded(method: str | None, params: dict[str, object], rows: list[object]) -> list[Instance]:
    step = StepTemplates(True, None, None, params, method)
    items = [Item(row, f"item {index}") for index, row in enumerate(rows)]
    reported: list[str] = []
    expansion = expand(step, items, renderer(), lambda path, message, key, place: reported.append(message))
    assert not reported
    return list(expansion.instances)


def test_instances_rendered_through_the_shape_equal_those_of_the_tree_renderer() -> None:
    fast = expanded("crm.item.add", PARAMS, list(ROWS))
    slow = expanded(None, PARAMS, list(ROWS))  # no method: no shape, every instance through TreeRenderer
    assert all(instance.shape is not None for instance in fast)
    assert all(instance.shape is None for instance in slow)
    for one, other in zip(fast, slow, strict=True):
        assert (one.params, one.links, one.secrets, one.text_paths) == (
            other.params,
            other.links,
            other.secrets,
            other.text_paths,
        )


def test_the_skeleton_filled_with_an_instance_s_values_is_its_encoded_command() -> None:
    params: dict[str, object] = {
        "fields": {"name": "{{ item.name }}", "n": "{{ item.n }}", "fixed": True},
        "x": [1, "{{ item.n }}"],
    }
    for instance in expanded("crm.item.add", params, list(ROWS)):
        assert instance.shape is not None
        assert instance.shape.skeleton.fill(instance.values) == encode_command(
            "crm.item.add",
            dict(instance.params),  # type: ignore[arg-type]
        )


def test_an_instance_with_a_problem_is_left_to_the_tree_renderer() -> None:
    step = StepTemplates(True, None, None, {"fields": {"name": "{{ item.name }}"}}, "crm.item.add")
    reported: list[str] = []
    items = [Item({"name": "ok"}, "item 0"), Item({}, "item 1")]
    expansion = expand(step, items, renderer(), lambda path, message, key, place: reported.append(message))
    assert [instance.shape is not None for instance in expansion.instances] == [True, False]
    assert reported == ["no key 'name' (the mapping is empty) (for_each item 1)"]


@pytest.mark.parametrize(
    "params",
    [
        {"fields": {"{{ item.k }}": "v"}},  # a template in a key
        {"fields": {"note": "$result[a][b]", "name": "{{ item.name }}"}},  # literal text read as a link
        {"fields": {"name": "plain"}},  # nothing to render
        {"fields": {"bad key]": "{{ item.name }}"}},  # a key the portal cannot decode
        {"fields": {"name": "{{ item.name"}},  # a syntax error
    ],
)
def test_unusual_parameters_have_no_shape(params: dict[str, object]) -> None:
    assert compile_shape("crm.item.add", params, renderer()) is None


def test_a_row_whose_value_would_be_read_as_a_link_is_reported_as_before(tmp_path: object) -> None:
    step = StepTemplates(True, None, None, {"fields": {"name": "{{ item }}"}}, "crm.item.add")
    reported: list[str] = []
    items = [Item("$result[x][y]", "item 0")]
    expand(step, items, renderer(), lambda path, message, key, place: reported.append(message))
    assert len(reported) == 1 and "would be read by the portal as a reference" in reported[0]


def test_loading_leaves_the_garbage_collector_as_it_found_it(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "p.yaml").write_text("version: 1\nname: x\nsteps:\n  - {id: a, method: crm.item.add}\n")
    (folder / "bad.yaml").write_text(
        "version: 1\nname: x\nsteps:\n  - {id: a, method: crm.item.add, nope: 1}\n"
    )
    assert gc.isenabled()
    load_pipeline(str(folder / "p.yaml"))
    assert gc.isenabled()
    with pytest.raises(PipelineError):
        load_pipeline(str(folder / "bad.yaml"))
    assert gc.isenabled()
    gc.disable()
    try:
        load_pipeline(str(folder / "p.yaml"))
        assert not gc.isenabled()
    finally:
        gc.enable()
