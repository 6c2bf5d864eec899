"""Targets: b24sync.toml and [tool.b24sync], and the order a command picks its portal in."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.client.ratelimit import RateLimit
from b24sync.client.tls import Tls
from b24sync.errors import UsageError
from b24sync.run.targets import choose, describe, find_config, load_config, open_portal

URL = "https://acme.bitrix24.com/rest/1/s3cr3t/"
CONFIG = """\
default_target = "staging"

[targets.prod]
webhook_env = "B24_PROD_WEBHOOK"
plan = "enterprise"

[targets.staging]
webhook_env = "B24_STAGING_WEBHOOK"
rate_limit = "10/1"
ca_bundle = "certs/ca.pem"

[targets.local]
emulator = true
emulator_state = "state/portal.json"
"""


def config(tmp_path: Path, text: str = CONFIG, name: str = "b24sync.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_config_is_found_in_the_folder_or_above(tmp_path: Path) -> None:
    path = config(tmp_path)
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_config(tmp_path / "a" / "b") == path


def test_without_a_config_there_is_none(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert find_config(tmp_path / "empty") is None


def test_a_broken_pyproject_of_another_tool_does_not_break_b24sync(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n", encoding="utf-8")
    assert find_config(tmp_path) is None


def test_pyproject_counts_only_with_a_tool_b24sync_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert find_config(tmp_path) != tmp_path / "pyproject.toml"
    config(
        tmp_path, '[project]\nname = "x"\n[tool.b24sync.targets.prod]\nwebhook_env = "P"\n', "pyproject.toml"
    )
    found = find_config(tmp_path)
    assert found == tmp_path / "pyproject.toml"
    assert list(load_config(found).config.targets) == ["prod"]


def test_a_target_names_the_variable_and_its_plan_sets_the_rate_limit(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path))
    choice = choose(loaded, {"B24_PROD_WEBHOOK": URL}, target="prod")
    assert (choice.kind, choice.url, choice.target) == ("webhook", URL, "prod")
    assert choice.rate_limit == RateLimit(250.0, 5.0)
    assert "s3cr3t" not in describe(choice) and "s3cr3t" not in repr(choice)


def test_the_default_target_is_taken_when_nothing_else_names_a_portal(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path))
    choice = choose(loaded, {"B24_STAGING_WEBHOOK": URL})
    assert choice.target == "staging" and choice.rate_limit == "10/1"
    assert choice.tls == Tls(ca_bundle=str(tmp_path / "certs" / "ca.pem"))


def test_without_config_or_variable_the_default_is_the_emulator() -> None:
    choice = choose(None, {})
    assert choice.kind == "emulator" and choice.implicit


@pytest.mark.parametrize(
    ("options", "environ", "kind", "reason"),
    [
        ({"emulator": True}, {"B24_WEBHOOK_URL": URL}, "emulator", "--emulator"),
        ({"emulator_state": "s.json"}, {"B24_WEBHOOK_URL": URL}, "emulator", "--emulator-state"),
        ({"webhook": URL}, {}, "webhook", "--webhook"),
        ({"target": "local"}, {"B24_WEBHOOK_URL": URL}, "emulator", "--target local"),
        ({}, {"B24_WEBHOOK_URL": URL}, "webhook", "$B24_WEBHOOK_URL"),
    ],
)
def test_the_order_of_the_rules(
    tmp_path: Path, options: dict[str, object], environ: dict[str, str], kind: str, reason: str
) -> None:
    choice = choose(load_config(config(tmp_path)), environ, **options)  # type: ignore[arg-type]
    assert (choice.kind, choice.reason) == (kind, reason)


def test_two_options_naming_the_portal_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--emulator and --webhook both name the portal"):
        choose(None, {}, emulator=True, webhook=URL)
    with pytest.raises(UsageError, match="--webhook and --target"):
        choose(load_config(config(tmp_path)), {}, webhook=URL, target="prod")


def test_an_empty_webhook_variable_is_an_error_not_a_fall_back() -> None:
    with pytest.raises(UsageError, match=r"\$B24_WEBHOOK_URL is set but empty"):
        choose(None, {"B24_WEBHOOK_URL": " "})


def test_a_target_whose_variable_is_missing_says_which(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path))
    with pytest.raises(UsageError, match=r"target prod: \$B24_PROD_WEBHOOK is not set"):
        choose(loaded, {}, target="prod")
    with pytest.raises(UsageError, match=r"\$B24_PROD_WEBHOOK is empty"):
        choose(loaded, {"B24_PROD_WEBHOOK": ""}, target="prod")


def test_an_unknown_target_gets_the_closest_name(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path))
    with pytest.raises(
        UsageError, match=r"no target 'prd' \(did you mean 'prod'\?\); targets: local, prod, staging"
    ):
        choose(loaded, {}, target="prd")
    with pytest.raises(UsageError, match=r"there is no b24sync\.toml"):
        choose(None, {}, target="prod")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[targets.prod]\nwebhok_env = "X"\n',
            r"targets\.prod\.webhok_env: unknown key \(did you mean 'webhook_env'\?\)",
        ),
        ('[targets.prod]\nwebhook_env = "X"\nemulator = true\n', "exactly one of webhook_env"),
        ('[targets.prod]\nwebhook_env = "X"\nplan = "gold"\n', r"targets\.prod\.plan"),
        ('[targets.prod]\nwebhook_env = "X"\nplan = "basic"\nrate_limit = "off"\n', "plan or rate_limit"),
        (
            'default_target = "nope"\n[targets.prod]\nwebhook_env = "X"\n',
            "default_target 'nope' is not one of",
        ),
        (
            '[targets.prod]\nwebhook = "https://acme.bitrix24.com/rest/1/code/"\n',
            r"targets\.prod\.webhook: unknown key",
        ),
        ("[targets.prod\n", "not valid TOML"),
    ],
)
def test_config_problems_are_one_line_naming_the_file_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        load_config(config(tmp_path, text))
    assert str(caught.value).startswith(str(tmp_path / "b24sync.toml"))
    assert "\n" not in str(caught.value)
    assert "code/" not in str(caught.value)


def test_command_line_options_override_the_targets_own(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path))
    choice = choose(
        loaded, {"B24_STAGING_WEBHOOK": URL}, target="staging", rate_limit="off", tls=Tls(insecure=True)
    )
    assert choice.rate_limit == "off" and choice.tls.insecure


def test_an_emulator_target_keeps_its_state_relative_to_the_config(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path))
    choice = choose(loaded, {}, target="local")
    assert choice.state_path == str(tmp_path / "state" / "portal.json")
    with open_portal(choice) as portal:
        portal.client.call_method("crm.item.add", {"entityTypeId": 4, "fields": {"title": "Kept"}})
    assert (tmp_path / "state" / "portal.json").is_file()
