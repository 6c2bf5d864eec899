"""The CI recipes of docs/ci.md are valid YAML of their CI, and call b24sync with options that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from b24sync.cli import main

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text(encoding="utf-8")
BLOCKS = [yaml.safe_load(body) for body in re.findall(r"^```yaml\n(.*?)^```", DOC, re.S | re.M)]
GITHUB = [block for block in BLOCKS if "jobs" in block]
GITLAB = [block for block in BLOCKS if "jobs" not in block]
GITLAB_RESERVED = {"stages", "default", "workflow", "variables", "include", "image", "before_script"}
# Options the recipes use that land with upsert steps (issue 7); remove an entry once the CLI has it.
PENDING: set[tuple[str, str]] = set()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _b24sync_calls() -> list[tuple[str, list[str]]]:
    calls = []
    for block in BLOCKS:
        for text in _strings(block):
            for line in text.splitlines():
                for match in re.finditer(r"\bb24sync ([a-z]+) ([^|;&>]*)", line):
                    calls.append((match[1], match[2].split()))
    return calls


def test_there_is_a_github_and_a_gitlab_recipe() -> None:
    assert len(GITHUB) == 1 and GITLAB
    assert any("stages" in block for block in GITLAB)


def test_the_github_workflow_is_well_formed() -> None:
    [workflow] = GITHUB
    triggers = workflow.get(True, workflow.get("on"))  # YAML 1.1 reads a bare `on` as true
    assert {"pull_request", "push", "schedule"} <= set(triggers)
    for name, job in workflow["jobs"].items():
        assert "runs-on" in job and job["steps"], name
        assert all(("uses" in step) != ("run" in step) for step in job["steps"]), name
        for need in [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []):
            assert need in workflow["jobs"]


def test_the_github_apply_job_reads_the_secret_and_keeps_its_reports() -> None:
    apply_job = GITHUB[0]["jobs"]["apply"]
    run_step = next(step for step in apply_job["steps"] if "b24sync apply" in step.get("run", ""))
    assert run_step["env"]["B24_WEBHOOK_URL"] == "${{ secrets.B24_WEBHOOK_URL }}"
    upload = next(
        step for step in apply_job["steps"] if step.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["if"] == "always()"
    assert {"b24sync-report.json", "b24sync-junit.xml"} <= set(upload["with"]["path"].split())


@pytest.mark.parametrize("index", range(len(GITLAB)))
def test_gitlab_jobs_have_a_script_and_a_known_stage(index: int) -> None:
    block = GITLAB[index]
    stages = block.get("stages", ["build", "test", "deploy", "validate", "plan", "apply"])
    for name, job in block.items():
        if name in GITLAB_RESERVED:
            continue
        assert job["script"], name
        assert job["stage"] in stages, name


def test_the_gitlab_apply_job_keeps_its_reports_even_when_it_fails() -> None:
    [pipeline] = [block for block in GITLAB if "stages" in block]
    artifacts = pipeline["apply"]["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] in artifacts["paths"]
    assert "b24sync-report.json" in artifacts["paths"]


def test_every_b24sync_call_uses_a_real_command_and_real_options() -> None:
    calls = _b24sync_calls()
    assert {name for name, _ in calls} >= {"validate", "plan", "apply"}
    for name, args in calls:
        command = main.commands[name]
        known: set[str] = set()
        for param in command.params:
            if isinstance(param, click.Option):
                known.update(param.opts + param.secondary_opts)
        for option in [arg for arg in args if arg.startswith("--")]:
            if (name, option) in PENDING:
                assert option not in known, f"{name} {option} exists now: remove it from PENDING"
                continue
            assert option in known, f"b24sync {name} has no option {option}"
