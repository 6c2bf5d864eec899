"""The data-driven corpus: every file under tests/cases is checked through the command line.

- ``invalid/<name>.yaml``: ``b24sync validate`` exits 2 and prints exactly ``invalid/<name>.err``.
- ``valid/<name>.yaml``: ``validate`` prints one ok line; ``plan`` prints exactly ``<name>.plan.txt``
  and ``plan --format json`` exactly ``<name>.plan.json``.
- ``pipelines/<name>.yaml`` (the examples shipped to users): the same, with golden plans kept in
  ``tests/cases/pipelines/``.

Adding a case needs no code. Paths are relative to the repository root, as a user would type them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24sync.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASES = Path("tests/cases")
INVALID = sorted((ROOT / CASES / "invalid").glob("*.yaml"))
VALID = sorted((ROOT / CASES / "valid").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "pipelines").glob("*.yaml"))
# Templates of the corpus read these; the tests pin them so a developer's shell cannot change results.
PINNED_UNSET = ("B24SYNC_CASE_UNSET", "B24SYNC_TEST_UNSET")
# The database of pipelines/customers-from-sqlite.yaml, relative to that file.
PINNED_SET = {"SHOP_DB": "sqlite:///data/shop.db"}


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for name in PINNED_UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in PINNED_SET.items():
        monkeypatch.setenv(name, value)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _golden(case: Path, output_format: str) -> Path:
    folder = case.parent if case.parent.name == "valid" else ROOT / CASES / "pipelines"
    return folder / (case.stem + (".plan.txt" if output_format == "text" else ".plan.json"))


def test_the_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 40
    assert len(VALID) >= 3


@pytest.mark.parametrize("case", INVALID, ids=lambda path: path.stem)
def test_invalid_case_prints_exactly_its_err_file(case: Path) -> None:
    expected = case.with_suffix(".err").read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", _relative(case)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == expected
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("case", VALID + EXAMPLES, ids=lambda path: path.stem)
def test_valid_case_validates(case: Path) -> None:
    result = CliRunner().invoke(main, ["validate", _relative(case)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{_relative(case)}: ok\n"


@pytest.mark.parametrize("case", VALID + EXAMPLES, ids=lambda path: path.stem)
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_valid_case_plans_exactly_as_its_golden_file(case: Path, output_format: str, tmp_path: Path) -> None:
    golden = _golden(case, output_format)
    # --emulator: a fresh portal for upsert steps (every record is created); unused by the others.
    # An example that needs something of the portal (a smart process) has its emulator state beside
    # its golden plans; a copy is used, since the emulator saves its state back.
    state = golden.parent / f"{case.stem}.state.json"
    extra = []
    if state.exists():
        extra = ["--emulator-state", str(tmp_path / state.name)]
        (tmp_path / state.name).write_bytes(state.read_bytes())
    result = CliRunner().invoke(
        main, ["plan", _relative(case), "--format", output_format, "--emulator", *extra]
    )
    assert result.exit_code == 0, result.stderr
    if os.environ.get("B24SYNC_REGENERATE_GOLDEN") == "1":
        golden.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == golden.read_text(encoding="utf-8")
