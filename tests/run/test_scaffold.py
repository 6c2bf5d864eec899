"""``b24sync init``: the starter project, written next to nothing it would overwrite, that validates and
applies on the emulator as written, exactly as docs/cli.md and init's own last line say."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from b24sync.pipeline.models import json_schema
from b24sync.run.scaffold import default_action, scaffold
from b24sync.version import __version__

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
FILES = [
    "pipelines/contacts.yaml",
    "pipelines/data/contacts.csv",
    "pipelines/pipeline.schema.json",
    "b24sync.toml",
    ".github/workflows/b24sync.yml",
    ".gitignore",
]


def b24sync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)}
    return subprocess.run([sys.executable, "-m", "b24sync", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_init_writes_every_starter_file(tmp_path: Path) -> None:
    written = scaffold(tmp_path / "new")
    assert [(w.path, w.state) for w in written] == [(path, "created") for path in FILES]
    schema = json.loads((tmp_path / "new/pipelines/pipeline.schema.json").read_text())
    assert schema == json_schema()
    first_line = (tmp_path / "new/pipelines/contacts.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=pipeline.schema.json"
    workflow = yaml.safe_load((tmp_path / "new/.github/workflows/b24sync.yml").read_text())
    uses = {s["uses"] for job in workflow["jobs"].values() for s in job["steps"] if "b24sync@" in s["uses"]}
    assert uses == {default_action()} == {f"OWNER/b24sync@v{__version__}"}
    assert [w.needs_edit for w in written if w.path.endswith("b24sync.yml")] == [True]


def test_a_second_init_keeps_everything_and_gitignore_gets_only_what_it_lacks(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\nb24sync-report.json")  # no final newline
    (tmp_path / "b24sync.toml").write_text("# mine\n")
    written = {w.path: w.state for w in scaffold(tmp_path, action="acme/b24sync@v9")}
    assert written["b24sync.toml"] == "kept" and written[".gitignore"] == "updated"
    assert (tmp_path / "b24sync.toml").read_text() == "# mine\n"
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "b24sync-report.json"]
    assert lines.count("b24sync-report.json") == 1 and ".b24sync/" in lines
    assert "acme/b24sync@v9" in (tmp_path / ".github/workflows/b24sync.yml").read_text()
    again = {w.path: w.state for w in scaffold(tmp_path)}
    assert set(again.values()) == {"kept"}


def test_the_starter_validates_and_applies_as_init_says(tmp_path: Path) -> None:
    done = b24sync("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "replace OWNER" in done.stderr
    [next_line] = [line for line in done.stdout.splitlines() if line.startswith("next: ")]
    command = next_line.removeprefix("next: ").split("   (")[0]
    for part in command.split(" && "):
        program, *args = shlex.split(part)
        assert program == "b24sync"
        ran = b24sync(*args, cwd=tmp_path)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "company  1 created (id 1)" in ran.stdout and "contact  2 created (ids 1, 2)" in ran.stdout
    again = b24sync("apply", "pipelines/contacts.yaml", "--target", "local", "--no-progress", cwd=tmp_path)
    assert again.returncode == 0
    rerun = b24sync("apply", "pipelines/contacts.yaml", "--target", "local", "--no-progress", cwd=tmp_path)
    assert "contact  0 created, 0 updated, 2 unchanged" in rerun.stdout  # the emulator's state was kept
    assert (tmp_path / ".b24sync" / "portal.json").is_file()


def test_the_documented_init_example_runs(tmp_path: Path) -> None:
    section = CLI_DOC[CLI_DOC.index("## `b24sync init") :]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block is not None
    for line in block.group(1).splitlines():
        for part in line.removeprefix("$ ").split(" && "):
            program, *args = shlex.split(part)
            assert program == "b24sync"
            ran = b24sync(*args, cwd=tmp_path)
            assert ran.returncode == 0, ran.stdout + ran.stderr


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = b24sync("init", str(tmp_path / "file" / "below"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("b24sync: error:") and "Traceback" not in done.stderr
