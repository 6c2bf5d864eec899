"""``b24sync plan --estimate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24sync.cli.commands import main
from b24sync.planning.estimate import estimate, estimate_json, render_estimate
from b24sync.run.workflow import cloud_time, plan
from tests.planning.test_estimate import pipeline


def test_plan_estimate_prints_the_estimate_and_sends_nothing(tmp_path: Path) -> None:
    path = pipeline(tmp_path, 120)
    result = CliRunner().invoke(main, ["plan", path, "--estimate", "--no-contract"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("120 commands in 3 requests\n  standard")
    assert "batch 0" not in result.stdout
    result = CliRunner().invoke(main, ["plan", path, "--estimate", "--format", "json", "--no-contract"])
    assert json.loads(result.stdout) == {
        "commands": 120,
        "requests": 3,
        "seconds": {"standard": 0.0, "enterprise": 0.0},
        # 120 adds of 100 ms and 3 requests of 30 ms over 10 workers (docs/emulator.md's cloud figures)
        "portal": {
            "name": "cloud",
            "seconds": 1.209,
            "server_seconds": 1.209,
            "operating_seconds": 0.0,
            "binding_method": None,
            "set_by": "server",
        },
    }


def test_the_estimate_of_a_big_file_is_counted_as_apply_plans_it_never_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = pipeline(tmp_path, 25_001)  # more rows than two windows of 10,000: apply streams them
    whole = estimate(plan(path), cloud_time())

    def refused(*_: object, **__: object) -> None:
        raise AssertionError("planned whole")

    monkeypatch.setattr("b24sync.run.workflow.materialized", refused)
    streamed = CliRunner().invoke(main, ["plan", path, "--estimate", "--format", "json", "--no-contract"])
    assert streamed.exit_code == 0, streamed.output
    assert json.loads(streamed.stdout) == estimate_json(whole)
    assert json.loads(streamed.stdout)["requests"] == 501
    text = CliRunner().invoke(main, ["plan", path, "--estimate", "--no-contract"])
    assert text.stdout == render_estimate(whole)


def test_a_selected_estimate_holds_the_plan_to_the_cloud_figures_too(tmp_path: Path) -> None:
    # --select plans whole (not streamed): the same cloud line as the plain estimate
    path = pipeline(tmp_path, 120)
    plain = CliRunner().invoke(main, ["plan", path, "--estimate", "--no-contract"])
    selected = CliRunner().invoke(main, ["plan", path, "--estimate", "--no-contract", "--select", "contact"])
    assert selected.exit_code == 0, selected.output
    assert "\n  cloud " in selected.stdout
    assert selected.stdout == plain.stdout
