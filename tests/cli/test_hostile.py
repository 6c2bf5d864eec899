"""Hostile pipeline and data files: one clear error line and exit 2, never a traceback or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from b24sync.cli import main

HEAD = "version: 1\nname: hostile\n"


def step(params: str, extra: str = "") -> str:
    return HEAD + f"steps:\n  - {{id: a, method: crm.item.add{extra}, params: {params}}}\n"


def bomb() -> str:
    lines = ['x0: &x0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"x{i}: &x{i} [" + ",".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, 8)]
    return HEAD + "\n".join(lines) + "\nsteps: [{id: a, method: crm.item.add}]\n"


CASES = {
    "alias-bomb-under-unknown-keys": (bomb(), {}, "aliases expand to more than 100,000 values"),
    "yaml-nested-100000": (step("{x: " + "[" * 100_000 + "]" * 100_000 + "}"), {}, "nests deeper than 100"),
    "yaml-nested-500": (step("{x: " + "[" * 500 + "]" * 500 + "}"), {}, "nests deeper than 100"),
    "json-nested-100000": (
        step("{title: x}", ", for_each: {file: d.json}"),
        {"d.json": "[" * 100_000 + "]" * 100_000},
        "the data nests deeper than 100 levels",
    ),
    "json-5000-digits": (
        step("{title: '{{ item.n }}'}", ", for_each: {file: d.json}"),
        {"d.json": '[{"n": ' + "9" * 5000 + "}]"},
        "a number has 5000 digits",
    ),
    "yaml-data-bomb": (
        step("{title: x}", ", for_each: {file: d.yaml}"),
        {"d.yaml": bomb().split("steps:")[0].replace(HEAD, "") + "rows: [*x7]\n"},
        "aliases expand",
    ),
    "template-5000-digits": (step("{title: '{{ 10**5000 }}'}"), {}, "more than 1000 digits"),
    "template-a-times-10e9": (step("{title: \"{{ 'a' * 10**9 }}\"}"), {}, "more than 1,000,000"),
    "nested-range-loops": (
        step("{title: '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}'}"),
        {},
        "loop iterations",
    ),
    "nul-in-file-name": (step("{title: x}", ', for_each: {file: "d\\0.csv"}'), {}, "NUL character"),
    "constant-folding-security-error": (step("{title: \"{{ 1 if ''.__class__ else 2 }}\"}"), {}, "unsafe"),
    "vars-update": (step("{title: \"{{ vars.update({'x': 2}) }}\"}"), {}, "unsafe"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_hostile_file_is_one_clear_error(tmp_path: Path, name: str, command: str) -> None:
    text, data, message = CASES[name]
    (tmp_path / "p.yaml").write_text(text)
    for file, content in data.items():
        (tmp_path / file).write_text(content)
    result = CliRunner().invoke(main, [command, str(tmp_path / "p.yaml")], env={"B24_WEBHOOK_URL": None})
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_template_key_holding_a_link_plans_and_applies(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        HEAD
        + "vars: {k: title}\nsteps:\n  - {id: a, method: crm.item.add, params: {entityTypeId: 3, fields: {name: x}}}\n"
        + '  - {id: b, method: crm.item.add, params: {entityTypeId: 2, fields: {"{{ vars.k }}": "{{ steps.a.item.id }}"}}}\n'
    )
    planned = CliRunner().invoke(main, ["plan", str(tmp_path / "p.yaml")])
    assert planned.exit_code == 0, planned.output
    assert "fields[title]=(known after apply: a.item.id)" in planned.stdout
    applied = CliRunner().invoke(
        main, ["apply", str(tmp_path / "p.yaml"), "--emulator", "--report", str(tmp_path / "r.json")]
    )
    assert applied.exit_code == 0, applied.output


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example\\@127.0.0.1/rest/1/c0de/",
        "https://p.bitrix24.com:99999/rest/1/c0de/",
        "https://p.bitrix24.com:abc/rest/1/c0de/",
    ],
)
def test_a_bad_webhook_url_is_refused_before_anything_runs(tmp_path: Path, url: str) -> None:
    (tmp_path / "p.yaml").write_text(step("{entityTypeId: 3, fields: {name: x}}"))
    for args in (["apply", "--report", str(tmp_path / "r.json")], ["plan"]):
        result = CliRunner().invoke(
            main, [args[0], str(tmp_path / "p.yaml"), *args[1:]], env={"B24_WEBHOOK_URL": url}
        )
        assert result.exit_code == 2, result.output
        assert "c0de" not in result.output
    assert not (tmp_path / "r.json").exists()  # nothing ran, so nothing became unknown


def test_allow_env_lets_env_read_a_credential_looking_name(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(step("{title: \"{{ env('DEPLOY_KEY_ID') }}\"}"))
    env = {"DEPLOY_KEY_ID": "eu-1"}
    refused = CliRunner().invoke(main, ["plan", str(tmp_path / "p.yaml")], env=env)
    assert refused.exit_code == 2 and "--allow-env DEPLOY_KEY_ID" in refused.stderr
    allowed = CliRunner().invoke(
        main, ["plan", str(tmp_path / "p.yaml"), "--allow-env", "DEPLOY_KEY_ID"], env=env
    )
    assert allowed.exit_code == 0 and "title=eu-1" in allowed.stdout


def test_a_lone_surrogate_in_a_result_becomes_a_replacement_character(tmp_path: Path) -> None:
    from tests.helpers.hostile_portal import HostilePortal, json_answer

    def answer(path: str, payload: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
        result = {
            "result": {"a": {"NAME": "bad \ud800 text"}},
            "result_error": [],
            "result_total": [],
            "result_next": [],
            "result_time": [],
        }
        return json_answer({"result": result})

    (tmp_path / "p.yaml").write_text(HEAD + "steps:\n  - {id: a, method: user.current}\n")
    portal = HostilePortal(answer, "c0de")
    with portal.running():
        result = CliRunner().invoke(
            main,
            ["apply", str(tmp_path / "p.yaml"), "--report", str(tmp_path / "r.json"), "--rate-limit", "off"],
            env={"B24_WEBHOOK_URL": portal.url},
        )
    assert result.exit_code == 0, result.output
    assert "succeeded: 1 of 1 step" in result.stdout
    assert "bad \ufffd text" in (tmp_path / "r.json").read_text()
