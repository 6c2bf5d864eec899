"""``--select`` and ``--exclude`` from the command line: what is planned, what is left out, and links into
left-out steps filled from a ``--resume`` report or refused before anything is sent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from b24sync.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = "pipelines/quickstart.yaml"


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    for name in ("B24_WEBHOOK_URL", "B24SYNC_TARGET", "CI", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def read(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def test_a_plan_of_a_selection_says_what_was_left_out() -> None:
    result = run("plan", QUICKSTART, "--select", "company")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "left out (--select company): contact (2 commands), deal (1 command)"
    assert "1 command in 1 batch" in result.stdout


def test_the_json_plan_of_a_selection_lists_the_left_out_steps() -> None:
    result = run("plan", QUICKSTART, "--exclude", "deal", "--format", "json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["left_out"] == [{"step": "deal", "commands": 1}]
    assert plan["selected_by"] == "--exclude deal"
    assert [c["key"] for b in plan["batches"] for c in b["commands"]] == [
        "company", "contact_ann_example_com", "contact_bob_example_com",
    ]  # fmt: skip
    whole = json.loads(run("plan", QUICKSTART, "--format", "json").stdout)
    assert "left_out" not in whole and "selected_by" not in whole


def test_a_link_into_a_left_out_step_without_a_report_is_refused() -> None:
    result = run("apply", QUICKSTART, "--emulator", "--select", "deal", "--report", "r.json")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "b24sync: error: deal links to company, which --select deal leaves out, and no --resume report gives "
        "company, contact_ann_example_com: select it too (+deal), or pass --resume REPORT of a run where it "
        "succeeded"
    )
    assert not Path("r.json").exists()
    assert run("plan", QUICKSTART, "--select", "deal").exit_code == 2


def test_a_selection_resumed_from_a_report_fills_the_links_with_the_recorded_results() -> None:
    first = run(
        "apply",
        QUICKSTART,
        "--emulator-state",
        "portal.json",
        "--exclude",
        "deal",
        "--report",
        "first.json",
        "--no-progress",
    )
    assert first.exit_code == 0, first.stderr
    recorded = {s["command_key"]: s["created_id"] for s in read("first.json")["steps"]}
    planned = run("plan", QUICKSTART, "--select", "deal", "--resume", "first.json", "--format", "json")
    assert planned.exit_code == 0, planned.stderr
    [command] = [c for b in json.loads(planned.stdout)["batches"] for c in b["commands"]]
    assert {link["target"]: link["resolution"] for link in command["links"]} == {
        "company": "client", "contact_ann_example_com": "client",
    }  # fmt: skip
    second = run("apply", QUICKSTART, "--emulator-state", "portal.json", "--select", "deal", "--resume", "first.json", "--report", "second.json", "--no-progress")  # fmt: skip
    assert second.exit_code == 0, second.stderr
    report = read("second.json")
    assert [s["step"] for s in report["steps"]] == ["deal"]
    state = read("portal.json")
    deals = [record for record in _records(state) if record.get("title") == "First order"]
    assert len(deals) == 1
    assert deals[0]["companyId"] == recorded["company"]
    assert deals[0]["contactId"] == recorded["contact_ann_example_com"]


def _records(state: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "title" in node and "id" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(state)
    return found


def test_a_saved_plan_cannot_be_selected_again() -> None:
    assert run("plan", QUICKSTART, "--out", "plan.json").exit_code == 0
    result = run("apply", "plan.json", "--emulator", "--select", "company")
    assert result.exit_code == 2
    assert "choose steps when planning" in result.stderr


def test_an_unknown_step_is_a_usage_error_naming_the_closest() -> None:
    result = run("plan", QUICKSTART, "--select", "contcat+")
    assert result.exit_code == 2
    assert "no step 'contcat' (did you mean 'contact'?)" in result.stderr
