"""Machine output (validate, plan and apply with --format json), and plan never writing the emulator state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from b24sync.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "pipelines", tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    for name in ("B24_WEBHOOK_URL", "B24SYNC_TARGET", "CI", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


BROKEN = """\
version: 1
name: broken
steps:
  - id: company
    methd: crm.item.add
  - id: deal
    method: crm.item.add
    depends_on: [compnay]
"""


def test_validate_json_has_every_problem_with_its_place_and_code() -> None:
    Path("pipelines/broken.yaml").write_text(BROKEN, encoding="utf-8")
    result = run("validate", "pipelines/quickstart.yaml", "pipelines/broken.yaml", "--format", "json")
    assert result.exit_code == 2
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["valid"] is False
    assert document["files"] == [
        {"file": "pipelines/quickstart.yaml", "valid": True},
        {"file": "pipelines/broken.yaml", "valid": False},
    ]
    assert document["problems"] == [
        {"file": "pipelines/broken.yaml", "line": 5, "column": 5, "location": "steps[0].methd",
         "code": "unknown-key", "message": "unknown key 'methd' (did you mean 'method'?)"},
        {"file": "pipelines/broken.yaml", "line": 8, "column": 18, "location": "steps[1].depends_on[0]",
         "code": "unknown-step", "message": "unknown step 'compnay' (did you mean 'company'?)"},
    ]  # fmt: skip
    text = run("validate", "pipelines/broken.yaml")
    assert text.stderr.splitlines() == [
        f"{p['file']}:{p['line']}:{p['column']}: {p['location']}: {p['message']}"
        for p in document["problems"]
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("version: 1\nname: x\nsteps: [", "yaml-syntax"),
        ("version: 2\nname: x\nsteps:\n  - {id: a, method: x.y}\n", "unsupported-version"),
        ("version: 1\nname: x\nsteps:\n  - {id: a, method: x.y, params: {t: '{{ nope }}'}}\n", "template"),
        (
            "version: 1\nname: x\nsteps:\n  - {id: a, method: x.y, for_each: {file: missing.csv}}\n",
            "data-file",
        ),
        (
            "version: 1\nname: x\nsteps:\n  - {id: a, method: x.y, depends_on: [b]}\n  - {id: b, method: x.y, depends_on: [a]}\n",
            "cycle",
        ),
    ],
)
def test_each_kind_of_problem_has_its_code(text: str, code: str) -> None:
    Path("pipelines/p.yaml").write_text(text, encoding="utf-8")
    result = run("validate", "pipelines/p.yaml", "--format", "json")
    assert result.exit_code == 2
    assert [p["code"] for p in json.loads(result.stdout)["problems"]] == [code]


def test_validate_json_of_valid_files_exits_0() -> None:
    result = run("validate", "pipelines/quickstart.yaml", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "valid": True, "files": [{"file": "pipelines/quickstart.yaml", "valid": True}], "problems": []
    }  # fmt: skip


def test_apply_json_prints_the_summary_with_the_changes() -> None:
    result = run("apply", "pipelines/quickstart.yaml", "--emulator", "--format", "json", "--no-progress")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded" and summary["report"] == "b24sync-report.json"
    assert (
        summary["totals"]["succeeded"] == 4 and summary["totals"]["read_requests"] == 2
    )  # the field contract
    assert [(c["step"], c["created"], c["created_ids"]) for c in summary["changes"]] == [
        ("company", 1, [1]), ("contact", 2, [1, 2]), ("deal", 1, [1]),
    ]  # fmt: skip


def test_apply_of_upserts_counts_reads_apart_and_tells_unchanged_and_skipped_deletes() -> None:
    pipeline = "pipelines/sync-contacts.yaml"
    state = ".b24sync/portal.json"
    first = run("apply", pipeline, "--emulator-state", state, "--format", "json", "--no-progress")
    assert first.exit_code == 0, first.stderr
    data = Path("pipelines/data/shop-customers.csv")
    rows = data.read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")  # one customer gone
    Path("pipelines/sync-contacts.yaml").write_text(
        Path(pipeline)
        .read_text(encoding="utf-8")
        .replace("  - id: contact\n", "  - id: contact\n    delete_missing: true\n"),
        encoding="utf-8",
    )
    second = run("apply", pipeline, "--emulator-state", state, "--no-progress")
    assert second.exit_code == 0, second.stderr
    lines = second.stdout.splitlines()
    requests = next(line for line in lines if line.startswith("  requests"))
    assert requests.startswith("  requests  ") and " to read the portal, 0 to send 0 batches" in requests
    assert int(requests.split(": ")[1].split()[0]) >= 2
    assert (
        "  contact  0 created, 0 updated, 2 unchanged, 0 deleted, 1 delete skipped (no --allow-delete)"
        in lines
    )
    report = json.loads(Path("b24sync-report.json").read_text(encoding="utf-8"))
    assert [held["step"] for held in report["held_deletes"]] == ["contact"]


def test_plan_never_writes_the_emulator_state() -> None:
    state = Path("portal.json")
    result = run("plan", "pipelines/sync-contacts.yaml", "--emulator", "--emulator-state", str(state))
    assert result.exit_code == 0, result.stderr
    assert not state.exists()
    assert (
        run(
            "apply", "pipelines/sync-contacts.yaml", "--emulator-state", str(state), "--no-progress"
        ).exit_code
        == 0
    )
    before = state.read_bytes(), state.stat().st_mtime_ns
    again = run("plan", "pipelines/sync-contacts.yaml", "--emulator-state", str(state), "--diff")
    assert again.exit_code == 0, again.stderr
    assert "contact: + 0 create, ~ 0 update, = 3 unchanged" in again.stdout
    assert (state.read_bytes(), state.stat().st_mtime_ns) == before


def test_the_emulator_and_a_webhook_together_are_a_usage_error() -> None:
    result = run(
        "apply", "pipelines/quickstart.yaml", "--emulator", "--webhook", "https://a.bitrix24.com/rest/1/x/"
    )
    assert result.exit_code == 2
    assert "--emulator and --webhook both name the portal: choose one" in result.stderr
