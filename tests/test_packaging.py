"""b24sync as users install it: the wheel and sdist `python -m build` makes, installed into a fresh venv,
running the quickstart and `init`; docs/ci.md's recipes with their real install steps (the Action
installing from its checkout, pip from the git tag); the pre-commit hook through `pre-commit try-repo`.

Slow (they build, and download from PyPI what a fresh venv lacks): `.ci/run` runs them with `-m slow`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from b24sync.emulator import Emulator
from b24sync.version import __version__
from tests.helpers.actions import Runner

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TAG = f"v{__version__}"
WHEEL = f"b24sync-{__version__}-py3-none-any.whl"
SKIP = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
                              ".coverage", "b24sync-report.json", ".venv")  # fmt: skip


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    return run(["git", *args], cwd, env)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as a fresh repository with the release tag (tags need not travel with the branch)."""
    folder = tmp_path_factory.mktemp("source") / "b24sync"
    shutil.copytree(ROOT, folder, ignore=SKIP)
    git("init", "-q", "-b", "main", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-q", "-m", "release", cwd=folder)
    git("tag", "-a", TAG, "-m", TAG, cwd=folder)
    return folder


@pytest.fixture(scope="module")
def dist(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], source)
    return out


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no b24sync, no site packages); its ``bin`` folder."""
    folder = tmp_path_factory.mktemp("venv") / "env"
    run([sys.executable, "-m", "venv", str(folder)], folder.parent)
    return folder / "bin"


def user_env(bin_dir: Path) -> dict[str, str]:
    """A user's shell: the venv first on PATH, nothing of this checkout or its editable install."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG") or k.startswith("PIP_")}
    return {**keep, "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin"}


def test_the_wheel_and_sdist_hold_the_package_data(dist: Path) -> None:
    names = zipfile.ZipFile(dist / WHEEL).namelist()
    for needed in ("b24sync/py.typed", "b24sync/run/starter/contacts.yaml", "b24sync/run/starter/contacts.csv",
                   "b24sync/run/starter/b24sync.toml", "b24sync/run/starter/workflow.yml",
                   "b24sync/run/starter/gitignore", "b24sync/emulator/tls.py"):  # fmt: skip
        assert needed in names, needed
    assert not any(name.startswith("tests/") for name in names)
    with tarfile.open(dist / f"b24sync-{__version__}.tar.gz") as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "README.md", "b24sync/py.typed", "b24sync/run/starter/contacts.yaml"} <= members


def test_the_installed_wheel_runs_the_quickstart_init_and_the_schema(
    dist: Path, venv: Path, tmp_path: Path
) -> None:
    env = user_env(venv)
    run([str(venv / "python"), "-m", "pip", "install", "--quiet", str(dist / WHEEL)], tmp_path, env)
    assert (
        run([str(venv / "b24sync"), "--version"], tmp_path, env).strip() == f"b24sync, version {__version__}"
    )
    located = run([str(venv / "python"), "-c", "import b24sync, importlib.resources as r; "
                   "print(b24sync.__file__); print(r.files('b24sync').joinpath('py.typed').is_file())"], tmp_path, env)  # fmt: skip
    where, typed = located.split()
    assert str(venv.parent) in where and typed == "True"  # the installed copy, not this checkout
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    summary = run(
        [str(venv / "b24sync"), "apply", "pipelines/quickstart.yaml", "--emulator", "--no-progress"],
        tmp_path,
        env,
    )
    assert summary.startswith("b24sync: succeeded: 4 of 4 steps succeeded")
    schema = json.loads(run([str(venv / "b24sync"), "schema"], tmp_path, env))
    assert schema == json.loads((ROOT / "docs" / "pipeline.schema.json").read_text(encoding="utf-8"))
    project = tmp_path / "project"
    run([str(venv / "b24sync"), "init", str(project)], tmp_path, env)
    run([str(venv / "b24sync"), "validate", "pipelines/contacts.yaml"], project, env)
    applied = run([str(venv / "b24sync"), "apply", "pipelines/contacts.yaml", "--no-progress"], project, env)
    assert "contact  2 created (ids 1, 2)" in applied


# -- docs/ci.md with its real install steps -------------------------------------------------------------


@pytest.fixture
def portal() -> Iterator[str]:
    with Emulator(token="packaging-token").serve() as url:
        yield url


def test_the_github_recipe_with_the_action_installing_b24sync(
    source: Path, tmp_path: Path, portal: str
) -> None:
    bin_dir = tmp_path / "env" / "bin"
    run([sys.executable, "-m", "venv", str(bin_dir.parent)], tmp_path)
    project = tmp_path / "project"
    run([sys.executable, "-m", "b24sync", "init", str(project)], ROOT)
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    [workflow] = [block for block in map(yaml.safe_load, re.findall(r"^```yaml\n(.*?)^```", doc, re.S | re.M))
                  if "jobs" in block]  # fmt: skip
    runner = Runner(workspace=project, temp=tmp_path / "runner", bin_dir=bin_dir, secrets={"B24_WEBHOOK_URL": portal},
                    base_env=user_env(bin_dir), action_root=source)  # fmt: skip
    for job in ("validate", "apply"):
        ran = runner.run_job(workflow, job)
        assert ran.status == "success", ran.output()[-3000:]
    installed = run([str(bin_dir / "python"), "-c", "import b24sync; print(b24sync.__file__)"], tmp_path)
    assert str(bin_dir.parent) in installed


def test_the_gitlab_recipe_installs_from_the_git_tag(source: Path, tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    [pipeline] = [block for block in map(yaml.safe_load, re.findall(r"^```yaml\n(.*?)^```", doc, re.S | re.M))
                  if "stages" in block]  # fmt: skip
    [install] = pipeline["default"]["before_script"]
    # the documented line, with <owner>'s repository replaced by this checkout's tagged copy
    local = install.replace("https://github.com/<owner>/b24sync", f"file://localhost{source}")
    assert local != install and f"@{TAG}" in local
    bin_dir = tmp_path / "env" / "bin"
    run([sys.executable, "-m", "venv", str(bin_dir.parent)], tmp_path)
    project = tmp_path / "project"
    run([sys.executable, "-m", "b24sync", "init", str(project)], ROOT)
    env = {**user_env(bin_dir), "CI": "true", "CI_PIPELINE_SOURCE": "push"}
    for line in [local, *pipeline["validate"]["script"]]:
        run(["bash", "-eo", "pipefail", "-c", line], project, env)
    assert (project / "emulator-report.json").is_file()
    version = run([str(bin_dir / "b24sync"), "--version"], project, env)
    assert version.strip() == f"b24sync, version {__version__}"


# -- the pre-commit hook ---------------------------------------------------------------------------------


def test_the_pre_commit_hook_through_try_repo(source: Path, tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    project = tmp_path / "project"
    run([sys.executable, "-m", "b24sync", "init", str(project)], ROOT)
    (project / "pipelines" / "data" / "rows.yaml").write_text("- {a: 1}\n")  # data, not a pipeline
    git("init", "-q", cwd=project)
    git("add", "-A", cwd=project)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("PYTHONPATH", None)
    ok = subprocess.run([pre_commit, "try-repo", str(source), "b24sync-validate", "--all-files"], cwd=project,
                        env=env, capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-3000:]
    assert re.search(r"b24sync validate\.+Passed", ok.stdout)
    broken = project / "pipelines" / "broken.yaml"
    broken.write_text("version: 1\nname: x\nsteps:\n  - id: a\n    methd: x\n")
    git("add", "-A", cwd=project)
    failed = subprocess.run([pre_commit, "try-repo", str(source), "b24sync-validate", "--files", "pipelines/broken.yaml"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert failed.returncode == 1
    assert "pipelines/broken.yaml:5:5: steps[0].methd: unknown key 'methd'" in failed.stdout
