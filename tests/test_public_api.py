"""The public face: ``from b24sync import ...`` gives exactly the documented names, and the workflow
runs as a library, without the command line."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import b24sync
from b24sync import version

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = [
    "Applied",
    "Assume",
    "B24Hook",
    "B24SyncError",
    "Emulator",
    "Pipeline",
    "Plan",
    "RunReport",
    "__version__",
    "apply",
    "load_pipeline",
    "plan",
]


def test_all_is_exactly_the_public_face() -> None:
    assert sorted(b24sync.__all__) == PUBLIC
    namespace: dict[str, object] = {}
    exec("from b24sync import *", namespace)
    assert sorted(name for name in namespace if name != "__builtins__") == PUBLIC


def test_each_public_name_is_what_its_layer_defines() -> None:
    from b24sync.client.hook import B24Hook
    from b24sync.emulator import Emulator
    from b24sync.pipeline.loader import load_pipeline
    from b24sync.run.workflow import apply, plan

    assert (b24sync.B24Hook, b24sync.Emulator, b24sync.load_pipeline) == (B24Hook, Emulator, load_pipeline)
    assert (b24sync.plan, b24sync.apply) == (plan, apply)


def test_plan_stays_the_function_after_the_planning_package_is_imported() -> None:
    import b24sync.planning.planner

    assert callable(b24sync.plan) and b24sync.plan.__module__ == "b24sync.run.workflow"


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        b24sync.missing_name  # noqa: B018
    except AttributeError as error:
        assert "missing_name" in str(error)
    else:
        raise AssertionError("b24sync.missing_name should not exist")


def test_the_version_is_written_once() -> None:
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in project and "\nversion = " not in project.split("[tool.")[0]
    assert 'version = { attr = "b24sync.version.__version__" }' in project
    assert b24sync.__version__ == version.__version__
    installed = importlib.metadata.distribution("b24sync")
    origin = json.loads(installed.read_text("direct_url.json") or "{}").get("url", "")
    if origin.rstrip("/") == ROOT.as_uri():
        # the metadata pip wrote for this checkout; another checkout's editable install may be older
        assert installed.version == version.__version__


def test_the_quickstart_runs_as_a_library_without_the_command_line() -> None:
    script = (
        "import sys, b24sync\n"
        "result = b24sync.apply('pipelines/quickstart.yaml', b24sync.Emulator())\n"
        "assert result.status == 'succeeded', result.status\n"
        "assert result.report.totals.succeeded == 4 and result.report.totals.requests == 1\n"
        "assert 'click' not in sys.modules and 'b24sync.cli' not in sys.modules\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"
