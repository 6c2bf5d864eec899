"""``b24sync plan --estimate``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from b24sync.cli.commands import main
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
    }
