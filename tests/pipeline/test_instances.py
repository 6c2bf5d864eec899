from __future__ import annotations

from b24sync.pipeline.instances import Item, StepTemplates, expand, key_stem
from b24sync.pipeline.template import Renderer

Reported = list[tuple[tuple[object, ...], str, bool]]


def run(step: StepTemplates, items: list[Item] | None) -> tuple[list[str | None], Reported, frozenset[str]]:
    renderer = Renderer(variables={"n": 2}, environ={}, step_for_each={"a": False})
    reported: Reported = []
    expansion = expand(
        step, items, renderer, lambda path, message, at_key, place: reported.append((path, message, at_key))
    )
    return [i.name for i in expansion.instances], reported, expansion.dropped


def items(*values: object) -> list[Item]:
    return [Item(value, f"item {index}") for index, value in enumerate(values)]


def test_a_step_without_for_each_is_one_unnamed_instance() -> None:
    assert run(StepTemplates(False, None, None, {"x": "{{ vars.n }}"}), None) == ([None], [], frozenset())


def test_instances_are_named_by_key_or_by_index() -> None:
    assert run(StepTemplates(True, None, None, {}), items("a", "b"))[0] == ["0", "1"]
    assert run(StepTemplates(True, "{{ item }}-{{ loop.index }}", None, {}), items("a", "b"))[0] == [
        "a-1",
        "b-2",
    ]


def test_when_drops_instances_and_remembers_their_keys() -> None:
    names, reported, dropped = run(
        StepTemplates(True, "{{ item }}", "{{ item != 'b' }}", {}), items("a", "b")
    )
    assert (names, reported, dropped) == (["a"], [], frozenset({"b"}))


def test_when_text_that_reads_false_drops() -> None:
    for text in ("false", "False ", "0", "no", "", "None"):
        step = StepTemplates(True, None, "{{ item }}", {})
        assert run(step, items(text))[0] == [], text
    assert run(StepTemplates(True, None, "{{ item }}", {}), items("yes"))[0] == ["0"]


def test_a_dropped_item_may_have_no_valid_key() -> None:
    step = StepTemplates(True, "{{ item.email }}", "{{ item.email != '' }}", {})
    assert run(step, items({"email": "a@x"}, {"email": ""})) == (["a@x"], [], frozenset())


def test_duplicate_keys_are_reported_with_both_items() -> None:
    names, reported, _ = run(StepTemplates(True, "{{ item }}", None, {}), items("a", "a"))
    assert names == ["a"]
    assert reported == [(("key",), "duplicate key 'a' (first at for_each item 0, again at item 1)", False)]


def test_the_same_problem_in_many_instances_is_reported_once() -> None:
    _, reported, _ = run(StepTemplates(True, None, None, {"x": "{{ item.nope }}"}), items({}, {}, {}))
    assert reported == [
        (("params", "x"), "no key 'nope' (the mapping is empty) (for_each item 0 and 2 more)", False)
    ]


def test_instances_record_links_secrets_and_where_text_values_sit() -> None:
    renderer = Renderer(variables={}, environ={}, step_for_each={"a": False})
    step = StepTemplates(False, None, None, {"f": {"id": "{{ steps.a.item.id }}", "t": "{{ secret('T') }}"}})
    (instance,) = expand(step, None, renderer, lambda *problem: None).instances
    assert [link.ref.step for link in instance.links] == ["a"]
    assert instance.secrets == ("T",)
    assert instance.text_paths == (("f", "id"), ("f", "t"))


def test_a_key_stem_keeps_ascii_letters_and_digits_only() -> None:
    # protocol §3.2: a command key is [A-Za-z0-9_]; an id or code passes whole, cut at 40 characters
    assert key_stem("C00017", 5) == "C00017"
    assert key_stem("x" * 60, 0) == "x" * 40
    assert key_stem("a" * 39 + ".b", 0) == "a" * 39
    assert key_stem("ann@x.org", 0) == "ann_x_org"
    # letters and digits of other scripts are alphanumeric to Python, not to the portal
    assert key_stem("ab²c", 0) == "ab_c"
    assert key_stem("²٠", 3) == "3"
    assert key_stem("Öz", 1) == "z"
