"""docs/ci.md: its recipes are valid for their CI, call b24sync with options that exist, and the GitHub
workflow runs as written (the local runner of tests/helpers/actions.py) on the project `b24sync init`
makes, against an emulator standing in for the portal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from b24sync.cli import main
from b24sync.emulator import Emulator
from b24sync.version import __version__
from tests.helpers.actions import ROOT, Runner, launcher

DOC = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
TEXTS = re.findall(r"^```yaml\n(.*?)^```", DOC, re.S | re.M)
BLOCKS = [yaml.safe_load(body) for body in TEXTS]
[GITHUB_TEXT] = [text for text, block in zip(TEXTS, BLOCKS, strict=True) if "jobs" in block]
[GITHUB] = [block for block in BLOCKS if "jobs" in block]
[GITLAB] = [block for block in BLOCKS if "stages" in block]
[PRE_COMMIT] = [block for block in BLOCKS if "repos" in block]
SHELL = [body for body in re.findall(r"^```sh\n(.*?)^```", DOC, re.S | re.M)]
GITLAB_RESERVED = {"stages", "default", "workflow", "variables", "include", "image", "before_script"}
TOKEN = "ci-recipe-token"


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
    texts = [*_strings(GITHUB), *_strings(GITLAB), *SHELL]
    texts += [step["with"].get("args", "") and f"b24sync {step['with']['command']} {step['with']['args']}"
              for job in GITHUB["jobs"].values() for step in job["steps"] if "with" in step and "command" in step["with"]]  # fmt: skip
    for text in texts:
        for line in text.splitlines():
            for match in re.finditer(r"\bb24sync ([a-z]+) ([^|;&>]*)", line):
                calls.append((match[1], match[2].split()))
    return calls


def test_the_github_workflow_is_well_formed() -> None:
    triggers = GITHUB.get(True, GITHUB.get("on"))  # YAML 1.1 reads a bare `on` as true
    assert {"pull_request", "push", "schedule"} <= set(triggers)
    for name, job in GITHUB["jobs"].items():
        assert "runs-on" in job and job["steps"], name
        assert all(("uses" in step) != ("run" in step) for step in job["steps"]), name
        for need in [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", []):
            assert need in GITHUB["jobs"]


def test_the_recipes_install_the_tagged_version_with_the_placeholder_explained() -> None:
    tag = f"v{__version__}"
    uses = {
        step["uses"]
        for job in GITHUB["jobs"].values()
        for step in job["steps"]
        if "b24sync@" in step.get("uses", "")
    }
    assert uses == {f"<owner>/b24sync@{tag}"}
    assert (
        f'pip install "b24sync @ git+https://github.com/<owner>/b24sync@{tag}"'
        in GITLAB["default"]["before_script"]
    )
    assert "`<owner>` below stands for the GitHub account" in DOC
    assert f"dist/b24sync-{__version__}-py3-none-any.whl" in DOC
    assert PRE_COMMIT["repos"][0]["rev"] == tag


def test_the_apply_job_reads_the_secret_from_an_environment() -> None:
    apply_job = GITHUB["jobs"]["apply"]
    assert apply_job["environment"] == "bitrix24"
    [action] = [step for step in apply_job["steps"] if "b24sync@" in step.get("uses", "")]
    assert action["with"]["webhook"] == "${{ secrets.B24_WEBHOOK_URL }}"


@pytest.mark.parametrize("name", [name for name in GITLAB if name not in GITLAB_RESERVED])
def test_gitlab_jobs_have_a_script_and_a_known_stage(name: str) -> None:
    job = GITLAB[name]
    assert job["script"], name
    assert job["stage"] in GITLAB["stages"], name


def test_the_gitlab_apply_job_keeps_its_reports_even_when_it_fails() -> None:
    artifacts = GITLAB["apply"]["artifacts"]
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
            assert option in known, f"b24sync {name} has no option {option}"


def test_the_workflows_are_valid_for_github(tmp_path: Path) -> None:
    pytest.importorskip("check_jsonschema", reason="pip install check-jsonschema (the test extra has it)")
    (tmp_path / "b24sync.yml").write_text(GITHUB_TEXT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(tmp_path / "b24sync.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# -- the GitHub workflow, run -----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    done = subprocess.run(
        [sys.executable, "-m", "b24sync", "init", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "created  pipelines/contacts.yaml" in done.stdout
    return folder


@pytest.fixture
def portal() -> Iterator[tuple[Emulator, str]]:
    emulator = Emulator(token=TOKEN)
    with emulator.serve() as url:
        yield emulator, url


def runner(project: Path, tmp_path: Path, event: str, secrets: dict[str, str]) -> Runner:
    return Runner(
        workspace=project,
        temp=tmp_path / f"runner-{event}",
        bin_dir=launcher(tmp_path / "bin"),
        secrets=secrets,
        event_name=event,
        skip_steps=frozenset(
            {"Install b24sync"}
        ),  # the launcher runs this checkout; tests/packaging installs
    )


def test_the_validate_job_validates_and_runs_on_the_emulator(project: Path, tmp_path: Path) -> None:
    job = runner(project, tmp_path, "push", {}).run_job(GITHUB, "validate")
    assert job.status == "success", job.output()
    assert (
        "### b24sync validate: pipelines/*.yaml" in job.summary and "Every pipeline is valid." in job.summary
    )
    assert "## ✅ b24sync apply succeeded" in job.summary
    [report] = [p for p in job.artifacts["b24sync-emulator"] if p.name == "b24sync-report.json"]
    assert json.loads(report.read_text())["totals"]["succeeded"] == 3


def test_the_plan_job_plans_against_the_portal_and_shows_the_plan(
    project: Path, tmp_path: Path, portal: tuple[Emulator, str]
) -> None:
    emulator, url = portal
    job = runner(project, tmp_path, "pull_request", {"B24_WEBHOOK_URL": url}).run_job(GITHUB, "plan")
    assert job.status == "success", job.output()
    assert [step.name for step in job.steps if step.code is None] == []
    assert "Changes to apply:" in job.summary and "contact: + 2 create" in job.summary
    assert TOKEN not in job.summary + job.output()
    assert emulator.store.items(3) == []  # a plan writes nothing
    assert {p.name for p in job.artifacts["b24sync-plan"]} >= {"plan.json", "plan.txt"}


def test_the_plan_job_of_a_fork_without_the_secret_fails_saying_why(project: Path, tmp_path: Path) -> None:
    job = runner(project, tmp_path, "pull_request", {}).run_job(GITHUB, "plan")
    assert job.status == "failure"
    assert "upsert steps and portal sources read the portal" in job.output()
    assert "The plan failed:" in job.summary


def test_the_apply_job_applies_keeps_the_reports_and_a_second_run_changes_nothing(
    project: Path, tmp_path: Path, portal: tuple[Emulator, str]
) -> None:
    emulator, url = portal
    job = runner(project, tmp_path, "push", {"B24_WEBHOOK_URL": url}).run_job(GITHUB, "apply")
    assert job.status == "success", job.output()
    assert len(emulator.store.items(3)) == 2 and len(emulator.store.items(4)) == 1
    assert {p.name for p in job.artifacts["b24sync-apply"]} >= {"b24sync-report.json", "b24sync-junit.xml"}
    assert "| contact | 2 | 0 | 0 | 0 | 0 | " in job.summary
    again = runner(project, tmp_path / "again", "push", {"B24_WEBHOOK_URL": url}).run_job(GITHUB, "apply")
    assert again.status == "success"
    assert "| contact | 0 | 0 | 2 | 0 | 0 |" in again.summary
    assert len(emulator.store.items(3)) == 2
    assert TOKEN not in job.summary + job.output() + again.output()


def test_the_plan_and_apply_jobs_do_not_run_on_the_other_event() -> None:
    assert GITHUB["jobs"]["plan"]["if"] == "github.event_name == 'pull_request'"
    assert GITHUB["jobs"]["apply"]["if"] == "github.event_name != 'pull_request'"


def test_the_apply_jobs_run_one_at_a_time() -> None:
    github = GITHUB["jobs"]["apply"]["concurrency"]
    assert github["group"] and github["cancel-in-progress"] is False
    assert GITLAB["apply"]["resource_group"]
    assert "## One run at a time" in DOC and "--lock-timeout" in DOC
