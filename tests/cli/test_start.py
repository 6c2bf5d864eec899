"""``b24sync --version`` and ``--help`` load click and little else: no pydantic, jinja2, requests, YAML,
emulator or workflow (the figures of the start-up time are in tests/bench/bench_start.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "jinja2", "requests", "yaml", "b24sync.emulator", "b24sync.run", "b24sync.pipeline")
PROBE = """
import json, sys
sys.argv = ["b24sync", *json.loads(sys.argv[1])]
try:
    import b24sync.cli
    b24sync.cli.main()
except SystemExit:
    pass
print("\\n" + json.dumps(sorted(sys.modules)))
"""


def imported_by(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["apply", "--help"], ["plan", "--help"]])
def test_the_version_and_the_help_import_nothing_heavy(args: list[str]) -> None:
    modules = imported_by(*args)
    assert "click" in modules
    loaded = [name for name in modules if name.split(".")[0] in HEAVY or name.startswith(HEAVY)]
    assert loaded == []


def test_a_command_does_load_what_it_needs() -> None:
    modules = imported_by("validate", "pipelines/quickstart.yaml")
    assert "pydantic" in modules and "jinja2" in modules
    assert not any(name.startswith("b24sync.emulator") for name in modules)
