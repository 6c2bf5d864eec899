"""The README's two set-up commands and pasted outputs are what they say.

The install part is not run here (tests never pip install); the ``b24sync`` part of the first command
runs through click's runner, the second must be the line ``.ci/run`` runs, and the pipeline, plan and
summary pasted in the README must be the real file and the real output.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24sync.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
BLOCKS = [(lang, body) for lang, body in FENCE.findall(README)]
SETUP = [body.strip() for lang, body in BLOCKS if lang == "sh" and body.startswith("pip install")]
# What changes from run to run in a summary: the duration, the run id, the file's and commit's hashes.
_VOLATILE = [
    (re.compile(r" in \d+\.\d s \(run [0-9a-f]{32}\)"), " in <time> (run <id>)"),
    (re.compile(r"\(sha256 [0-9a-f]{12}(, commit [0-9a-f]{12})?\)"), "(<origin>)"),
    (re.compile(r"\d+\.\d s waited"), "<time> waited"),
]


def normalized(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text.rstrip("\n")


def block_after(marker: str) -> str:
    """The first fenced block after the paragraph holding ``marker``."""
    start = README.index(marker)
    match = FENCE.search(README, start)
    assert match is not None, f"no fenced block after {marker!r}"
    return match.group(2)


def test_there_are_exactly_two_one_line_setup_commands() -> None:
    assert len(SETUP) == 2
    assert all("\n" not in command for command in SETUP)


def test_the_test_command_is_what_ci_runs() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert SETUP[1] == "pip install -e '.[test]' && python -m pytest -q"
    assert SETUP[1] in ci_lines


def test_the_first_command_applies_the_quickstart_and_shows_what_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install, _, command = SETUP[0].partition(" && ")
    assert install == "pip install -e ."
    program, *args = command.split()
    assert program == "b24sync"
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.startswith("b24sync: succeeded: 4 of 4 steps succeeded")
    assert "changes:\n  company  1 created (id 1), " in result.stdout
    assert (
        "\n  contact  2 created (ids 1, 2), " in result.stdout
        and "\n  deal     1 created (id 1), " in result.stdout
    )
    assert (tmp_path / "b24sync-report.json").exists()


def test_the_pipeline_shown_is_the_quickstart_file() -> None:
    shown = block_after("`pipelines/quickstart.yaml` creates")
    assert shown == (ROOT / "pipelines" / "quickstart.yaml").read_text(encoding="utf-8")


def test_the_plan_shown_is_what_plan_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["plan", "pipelines/quickstart.yaml"])
    assert result.exit_code == 0, result.stderr
    assert block_after("`b24sync plan pipelines/quickstart.yaml` shows").rstrip("\n") == result.stdout.rstrip(
        "\n"
    )


def test_the_summary_shown_is_what_apply_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["apply", "pipelines/quickstart.yaml", "--emulator", "--no-progress"])
    assert result.exit_code == 0, result.stderr
    shown = block_after("`b24sync apply pipelines/quickstart.yaml --emulator` runs it")
    assert normalized(shown) == normalized(result.stdout)


def test_every_local_link_of_the_readme_exists() -> None:
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        if target == "docs/performance.md":
            continue  # written by the benchmark work, merged separately
        assert (ROOT / target).exists(), target
