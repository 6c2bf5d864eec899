"""env() reads what a pipeline may show, never a credential (docs/cli.md, untrusted input)."""

from __future__ import annotations

import pytest

from b24sync.pipeline.envrule import EnvRule, secret_names_in
from b24sync.pipeline.template import Renderer, TemplateError

HOOK = "https://p.bitrix24.com/rest/1/zq81hostilecode/"
ENV = {
    "B24_WEBHOOK_URL": HOOK,
    "GITHUB_TOKEN": "ghp_x",
    "API_KEY": "k",
    "db_password": "pw",
    "REGION": "eu",
    "COPY": HOOK,
    "SHOP_SECRETLESS": "s",
    "ORDER_API": "tok-1234",
    "ECHO": "prefix tok-1234",
}


def render(source: str, allowed: tuple[str, ...] = (), secrets: frozenset[str] = frozenset()) -> object:
    renderer = Renderer(
        variables={}, environ=ENV, step_for_each={}, env_rule=EnvRule(ENV, allowed, set(secrets))
    )
    return renderer.render_string(source, {})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ env('B24_WEBHOOK_URL').split('/')[5] }}", "webhook URL holds its code"),
        ("{{ env('B24_WEBHOOK_URL', 'x')[::-1] }}", "webhook URL holds its code"),
        ("{{ env('GITHUB_TOKEN') }}", "a name with TOKEN usually holds a credential"),
        ("{{ env('API_KEY') }}", "--allow-env API_KEY"),
        ("{{ env('db_password') }}", "PASSWORD"),
        ("{{ env('SHOP_SECRETLESS') }}", "SECRET"),
        ("{{ env('COPY') }}", "its value holds a webhook URL"),
        ("{{ env('ORDER_API') }}", "uses ORDER_API as secret('ORDER_API')"),
        ("{{ env('ECHO') }}", "holds the value of a secret"),
    ],
)
def test_env_refuses_credentials_whatever_the_template_does_with_them(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render(source, secrets=frozenset({"ORDER_API"}))


def test_allow_env_lifts_the_name_list_but_never_the_webhook_or_a_secret() -> None:
    assert render("{{ env('GITHUB_TOKEN') }}", allowed=("GITHUB_TOKEN",)) == "ghp_x"
    assert render("{{ env('REGION') }}") == "eu"
    with pytest.raises(TemplateError, match="webhook"):
        render("{{ env('B24_WEBHOOK_URL') }}", allowed=("B24_WEBHOOK_URL",))
    with pytest.raises(TemplateError, match="secret"):
        render("{{ env('ORDER_API') }}", allowed=("ORDER_API",), secrets=frozenset({"ORDER_API"}))


def test_secret_names_are_found_in_the_file_text_before_anything_renders() -> None:
    text = 'a: "{{ env(\'X\') }}"\nb: "{{ secret( \'X\' ) }}"\n# secret("Y")\n'
    assert secret_names_in(text) == {"X", "Y"}


def test_secret_refuses_the_webhook_variable() -> None:
    with pytest.raises(TemplateError, match="webhook URL"):
        Renderer(variables={}, environ=ENV, step_for_each={}).render_string(
            "{{ secret('B24_WEBHOOK_URL') }}", {}, links_allowed=True
        )
