"""action.yml, the b24sync GitHub Action: valid metadata, documented inputs, and its steps' script run
locally for each command (tests/helpers/actions.py; the install step runs in tests/packaging)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from b24sync.emulator import Emulator
from tests.helpers.actions import ROOT, Runner, StepRun, launcher

ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
CI_DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
TOKEN = "action-token"


def test_action_yml_is_valid_actions_metadata() -> None:
    pytest.importorskip("check_jsonschema", reason="pip install check-jsonschema (the test extra has it)")
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-actions",
         str(ROOT / "action.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_action_is_composite_and_every_script_step_names_its_shell() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {"name", "description", "inputs", "runs"} <= set(ACTION)
    for step in ACTION["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step)
        if "run" in step:
            assert step["shell"] == "bash"
            # inputs only through env: an expression pasted into a script could run a value as code
            assert "${{" not in step["run"], step.get("name")


def test_every_input_used_exists_and_every_input_is_documented() -> None:
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used == set(ACTION["inputs"])
    table = CI_DOC[CI_DOC.index("| Input |") : CI_DOC.index("| Output |")]
    assert set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M)) == set(ACTION["inputs"])
    outputs = CI_DOC[CI_DOC.index("| Output |") :].split("\n\n")[0]
    assert set(re.findall(r"^\| `([a-z-]+)` \|", outputs, re.M)) == set(ACTION["outputs"])
    assert {"command", "pipeline", "webhook", "args"} <= set(ACTION["inputs"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    (folder / "pipelines" / "data").mkdir(parents=True)
    for name in ("quickstart.yaml", "sync-contacts.yaml"):
        (folder / "pipelines" / name).write_text((ROOT / "pipelines" / name).read_text(encoding="utf-8"))
    for name in ("team.csv", "shop-customers.csv"):
        (folder / "pipelines" / "data" / name).write_text((ROOT / "pipelines" / "data" / name).read_text())
    return folder


@pytest.fixture
def portal() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(token=TOKEN)
    with emulator.serve() as url:
        yield emulator, url


def action(workspace: Path, tmp_path: Path, **given: str) -> tuple[StepRun, Runner, dict[str, list[Path]]]:
    runner = Runner(
        workspace=workspace,
        temp=tmp_path / "runner",
        bin_dir=launcher(tmp_path / "bin"),
        skip_steps=frozenset({"Install b24sync"}),
    )
    artifacts: dict[str, list[Path]] = {}
    return runner.run_action(ROOT, given, artifacts=artifacts), runner, artifacts


def summary(runner: Runner) -> str:
    return runner.summary_file.read_text(encoding="utf-8")


def test_validate_with_a_glob_passes_and_says_so(workspace: Path, tmp_path: Path) -> None:
    run, runner, artifacts = action(workspace, tmp_path, command="validate", pipeline="pipelines/*.yaml")
    assert run.code == 0, run.stdout + run.stderr
    assert "pipelines/quickstart.yaml: ok" in run.stdout and "pipelines/sync-contacts.yaml: ok" in run.stdout
    assert "Every pipeline is valid." in summary(runner)
    assert [p.name for p in artifacts["b24sync-validate"]] == ["validate.txt"]


def test_validate_of_a_broken_pipeline_fails_with_the_problem_in_the_summary(
    workspace: Path, tmp_path: Path
) -> None:
    (workspace / "pipelines" / "bad.yaml").write_text(
        "version: 1\nname: x\nsteps:\n  - id: a\n    methd: x\n"
    )
    run, runner, _ = action(workspace, tmp_path, command="validate", pipeline="pipelines/*.yaml")
    assert run.code == 2
    assert "pipelines/bad.yaml:5:5: steps[0].methd: unknown key 'methd'" in summary(runner)


def test_plan_with_changes_is_a_successful_step_with_the_plan_in_the_summary(
    workspace: Path, tmp_path: Path, portal: tuple[Emulator, str]
) -> None:
    _, url = portal
    run, runner, artifacts = action(
        workspace, tmp_path, command="plan", pipeline="pipelines/sync-contacts.yaml", webhook=url
    )
    assert run.code == 0, run.stderr
    assert run.outputs["exit-code"] == "2"
    text = summary(runner)
    assert "### b24sync plan: pipelines/sync-contacts.yaml" in text and "Changes to apply:" in text
    assert "contact: + 3 create" in text
    assert TOKEN not in text + run.stdout + run.stderr
    assert {p.name for p in artifacts["b24sync-plan"]} == {"plan.json", "plan.txt", "plan-errors.txt"}


def test_apply_exports_the_webhook_writes_the_summary_and_keeps_the_reports(
    workspace: Path, tmp_path: Path, portal: tuple[Emulator, str]
) -> None:
    emulator, url = portal
    run, runner, artifacts = action(
        workspace, tmp_path, command="apply", pipeline="pipelines/quickstart.yaml", webhook=url,
        args="--var company=Initech", artifact="nightly",
    )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr
    assert [c["title"] for c in emulator.store.items(4)] == ["Initech"]
    assert "## ✅ b24sync apply succeeded" in summary(runner)
    reports = {p.name: p for p in artifacts["nightly"]}
    assert json.loads(reports["b24sync-report.json"].read_text())["status"] == "succeeded"
    assert "b24sync-junit.xml" in reports
    assert Path(run.outputs["reports"]) == reports["b24sync-report.json"].parent
    assert TOKEN not in summary(runner) + run.stdout + run.stderr


def test_apply_without_a_webhook_in_ci_fails_instead_of_using_the_emulator(
    workspace: Path, tmp_path: Path
) -> None:
    run, _, artifacts = action(workspace, tmp_path, command="apply", pipeline="pipelines/quickstart.yaml")
    assert run.code == 2
    assert "in CI b24sync does not fall back to the built-in emulator" in run.stderr
    assert artifacts["b24sync-apply"] == []


def test_args_are_options_never_code(workspace: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    run, _, _ = action(
        workspace, tmp_path, command="apply", pipeline="pipelines/quickstart.yaml",
        args=f"--emulator --var company=$(touch${{IFS}}{marker})`touch${{IFS}}{marker}` --format json",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert not marker.exists()
    assert json.loads(run.stdout)["status"] == "succeeded"


def test_an_unknown_command_is_an_error(workspace: Path, tmp_path: Path) -> None:
    run, _, _ = action(workspace, tmp_path, command="destroy", pipeline="pipelines/quickstart.yaml")
    assert run.code == 2
    assert "command must be validate, plan or apply, not 'destroy'" in run.stdout
