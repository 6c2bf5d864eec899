from __future__ import annotations

import pytest

from b24sync.pipeline.template import (
    LinkRef,
    LinkUse,
    Renderer,
    SecretRef,
    TemplateError,
    Text,
    TreeRenderer,
    is_template,
    reference_text_problem,
)


def renderer(**environ: str) -> Renderer:
    return Renderer(
        variables={"n": 5, "company": "Acme", "rows": [1, 2], "flag": True},
        environ=environ,
        step_for_each={"company": False, "contact": True},
    )


ITEM = {"item": {"email": "ann@x.org", "name": "Ann"}, "loop": {"index": 1, "first": True}}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ vars.n }}", 5),
        ("{{ vars.rows }}", [1, 2]),
        ("{{ vars.flag }}", True),
        ("{{ vars.n + 1 }}", 6),
        ("n={{ vars.n }}", "n=5"),
        ("{{ vars.n }} ", "5 "),
        ("{{ item.email != '' }}", True),
        ("{{ not loop.first }}", False),
        ("{{ item.name | upper }}", "ANN"),
        ("{{ vars['company'] }}", "Acme"),
        ("{% if vars.flag %}yes{% endif %}", "yes"),
        ("{{ vars.company }}{# a comment #}", "Acme"),
        ("plain text", "plain text"),
    ],
)
def test_a_single_expression_keeps_its_type_and_mixed_text_is_text(source: str, expected: object) -> None:
    assert renderer().render_string(source, ITEM) == expected


def test_env_reads_the_given_mapping_with_an_optional_default() -> None:
    assert renderer(HOME="/home/ann").render_string("{{ env('HOME') }}", {}) == "/home/ann"
    assert renderer().render_string("{{ env('NOPE', 'x') }}", {}) == "x"
    with pytest.raises(TemplateError, match=r"environment variable 'NOPE' is not set"):
        renderer().render_string("{{ env('NOPE') }}", {})


def test_steps_chains_become_links() -> None:
    render = renderer().render_string
    assert render("{{ steps.company.item.id }}", {}, links_allowed=True) == Text(
        (LinkRef("company", None, ("item", "id")),)
    )
    assert render("D_{{ steps.company.items[0].id }} x", {}, links_allowed=True) == Text(
        ("D_", LinkRef("company", None, ("items", 0, "id")), " x")
    )
    assert render("{{ steps.contact[item.email].item.id }}", ITEM, links_allowed=True) == Text(
        (LinkRef("contact", "ann@x.org", ("item", "id")),)
    )


def test_secrets_become_markers_never_values() -> None:
    value = renderer(TOKEN="s3cr3t").render_string("Bearer {{ secret('TOKEN') }}", {}, links_allowed=True)
    assert value == Text(("Bearer ", SecretRef("TOKEN")))
    assert "s3cr3t" not in repr(value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ steps.company.item.id | int }}", "the result of step 'company' is only known after apply"),
        ("{{ steps.company.item.id ~ 'x' }}", "the result of step 'company' is only known after apply"),
        ("{{ steps.company.item.id * 2 }}", "the result of step 'company' is only known after apply"),
        ("{{ steps.company.item.id.upper() }}", "the result of step 'company' is only known after apply"),
        ("{% if steps.company.item.id is defined %}x{% endif %}", "only known after apply"),
        ("{{ steps.compnay.id }}", "unknown step 'compnay' (did you mean 'company'?)"),
        ("{{ steps.contact.item.id }}", "step 'contact' has for_each: pick an instance"),
        ("{{ secret('T') | lower }}", "secret('NAME') must be a value of its own"),
        ("{{ secret('not a name') }}", "secret() takes the name of an environment variable"),
        ("{{ item.emial }}", "no key 'emial' (keys: email, name) (did you mean 'email'?)"),
        ("{{ itme }}", "undefined name 'itme' (did you mean 'item'?)"),
        ("{{ vars.rows[5] }}", "index 5 is out of range (the list has 2 elements)"),
        ("{{ x", "template syntax error"),
        ("{{ ''.__class__ }}", "unsafe"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ],
)
def test_misuse_is_a_template_error(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        renderer().render_string(source, ITEM, links_allowed=True)
    assert message in str(caught.value)


def test_links_and_secrets_outside_params_are_errors() -> None:
    with pytest.raises(TemplateError, match="only params can use it"):
        renderer().render_string("{{ steps.company.item.id }}", {})
    with pytest.raises(TemplateError, match=r"secret\('NAME'\) can only be used in params"):
        renderer().render_string("{{ secret('T') }}", {})


def test_item_outside_for_each_says_where_it_exists() -> None:
    with pytest.raises(TemplateError, match="item and loop exist only in a step with for_each"):
        renderer().render_string("{{ item.name }}", {})


def test_tree_renderer_records_links_with_what_follows_them() -> None:
    tree = TreeRenderer(renderer(), ITEM, links_allowed=True)
    value = tree.render(
        {
            "id": "{{ steps.company.item.id }}",
            "title": "Deal {{ steps.company.item.id }}-x",
            "note": "{{ steps.company.item.id }} ok",
            "list": ["{{ item.name }}", 3],
        }
    )
    assert tree.problems == []
    assert isinstance(value, dict) and value["list"] == ["Ann", 3]
    ref = LinkRef("company", None, ("item", "id"))
    assert tree.links == [
        LinkUse(("id",), ref, text_follows=False),
        LinkUse(("title",), ref, text_follows=True),
        LinkUse(("note",), ref, text_follows=False),
    ]


def test_tree_renderer_collects_every_problem_with_its_path() -> None:
    tree = TreeRenderer(renderer(), ITEM, links_allowed=True)
    tree.render({"a": "{{ nope }}", "b": {"c": "$result[x][ID]"}, "{{ steps.company.item.id }}": 1})
    assert [(p.path, p.in_key) for p in tree.problems] == [
        (("a",), False),
        (("b", "c"), False),
        (("{{ steps.company.item.id }}",), True),
    ]
    assert "would be read by the portal as a reference" in tree.problems[1].message
    assert "a link cannot be used in a key" in tree.problems[2].message


def test_rendered_keys_become_text() -> None:
    tree = TreeRenderer(renderer(), ITEM, links_allowed=True)
    assert tree.render({"uf_{{ vars.n }}": 1, "{{ vars.n }}": 2}) == {"uf_5": 1, "5": 2}


def test_data_that_looks_like_a_reference_is_refused() -> None:
    tree = TreeRenderer(renderer(), {"item": {"name": "$RESULT[a]"}}, links_allowed=True)
    tree.render({"name": "{{ item.name }}"})
    assert "'$RESULT['" in tree.problems[0].message


def test_helpers() -> None:
    assert is_template("{{ x }}") and is_template("{% if x %}{% endif %}") and not is_template("{x}")
    assert reference_text_problem("costs $5") is None
    assert reference_text_problem("see $total[list]") is not None


def test_reference_text_inside_a_whole_list_is_refused() -> None:
    tree = TreeRenderer(renderer(), {"item": {"tags": ["ok", "$next[x]"]}}, links_allowed=True)
    tree.render({"tags": "{{ item.tags }}"})
    assert [(p.path, "'$next['" in p.message) for p in tree.problems] == [(("tags", 1), True)]


def test_syntax_errors_in_multi_line_templates_name_the_template_line() -> None:
    with pytest.raises(TemplateError, match=r"template syntax error: .* \(line 3 of the template\)"):
        renderer().render_string("a\nb\n{{ x", {})


def test_a_key_that_is_a_template_keeps_the_links_under_it_at_the_rendered_key() -> None:
    tree = TreeRenderer(renderer(), ITEM, links_allowed=True)
    value = tree.render({"fields": {"{{ item.name }}": "{{ steps.company.item.id }}", "{{ 'x' }}": 1}})
    assert tree.problems == []
    assert isinstance(value, dict) and set(value["fields"]) == {"Ann", "x"}
    assert tree.text_paths == [("fields", "Ann")]
    assert [use.path for use in tree.links] == [("fields", "Ann")]


def test_two_keys_rendering_to_the_same_text_are_a_problem_at_the_second() -> None:
    tree = TreeRenderer(renderer(), ITEM, links_allowed=True)
    tree.render({"{{ item.name }}": 1, "Ann": 2})
    assert [(p.path, p.message) for p in tree.problems] == [(("Ann",), "the key renders to 'Ann' twice")]
