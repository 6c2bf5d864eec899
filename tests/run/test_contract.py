"""Which snapshot a run checks against, reading it once for many files, and saving it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

import b24sync
from b24sync.client import B24Hook
from b24sync.emulator import Emulator
from b24sync.errors import PipelineError
from b24sync.fields.snapshot import read_snapshot
from b24sync.run.contract import save_fields, validate_files

GOOD = "version: 1\nname: {name}\nsteps:\n  - id: c\n    method: crm.item.add\n    params: {{entityTypeId: {type}, fields: {{title: x}}}}\n"


def hook(emu: Emulator) -> B24Hook:
    return B24Hook(emu.webhook_url, session=emu.mount(requests.Session()), rate_limit=None)


def write(folder: Path, name: str, entity_type_id: int, field: str = "title") -> str:
    path = folder / f"{name}.yaml"
    path.write_text(
        GOOD.format(name=name, type=entity_type_id).replace("title:", f"{field}:"), encoding="utf-8"
    )
    return str(path)


def test_several_files_are_checked_with_one_read(tmp_path: Path) -> None:
    emu = Emulator()
    files = [write(tmp_path, "a", 4), write(tmp_path, "b", 2), write(tmp_path, "c", 4, "titel")]
    results = validate_files(files, hook(emu))
    assert emu.stats()["requests"] == 2
    assert [len(problems) for _, problems in results] == [0, 0, 1]
    assert "did you mean 'title'?" in results[2][1][0].message


def test_saving_keeps_the_entities_other_pipelines_of_the_folder_wrote(tmp_path: Path) -> None:
    emu = Emulator()
    save_fields([write(tmp_path, "a", 4)], hook(emu))
    (saved,) = save_fields([write(tmp_path, "b", 2)], hook(emu))
    assert saved.path == str(tmp_path / "b24sync.fields.json")
    assert sorted(read_snapshot(saved.path).entities) == ["crm.item:2", "crm.item:4"]
    (elsewhere,) = save_fields([write(tmp_path, "c", 3)], hook(emu), out=str(tmp_path / "x.json"), save=False)
    assert not (tmp_path / "x.json").exists() and sorted(elsewhere.snapshot.entities) == ["crm.item:3"]


def test_the_library_checks_against_the_portal_and_contract_false_skips(tmp_path: Path) -> None:
    path = write(tmp_path, "c", 4, "titel")
    with pytest.raises(PipelineError, match="unknown field 'titel'"):
        b24sync.plan(path, Emulator())
    assert b24sync.plan(path, Emulator(), contract=False).commands()
    # no portal and no snapshot: nothing to check with
    assert b24sync.plan(path).commands()


def test_a_portal_that_refuses_the_webhook_leaves_the_check_to_the_run(tmp_path: Path) -> None:
    emu = Emulator(token="right")
    wrong = B24Hook(
        emu.webhook_url.replace("right", "wrong"), session=emu.mount(requests.Session()), rate_limit=None
    )
    applied = b24sync.apply(write(tmp_path, "a", 4, "titel"), wrong)
    # the refusal is the run's: its report records it, as without the contract
    assert applied.fatal is not None and "INVALID_CREDENTIALS" in str(applied.fatal)
    assert applied.report.status == "failed"
