"""Pre-flight: an output that cannot be written stops apply before its first write (exit 2)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24sync.cli import main
from b24sync.emulator import Emulator

PIPELINE = """\
version: 1
name: preflight
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
"""


def _apply(url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "GITHUB_STEP_SUMMARY": ""}
    result = CliRunner().invoke(
        main, ["apply", str(path), "--webhook", url, "--no-progress", *args], env=env, catch_exceptions=False
    )
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("option", "name", "what"),
    [
        ("--report", "missing/r.json", "report"),
        ("--junit", "missing/j.xml", "JUnit report"),
        ("--markdown", "missing/s.md", "Markdown summary"),
        ("--junit", "j" * 300 + ".xml", "JUnit report"),
        ("--report", "afile/r.json", "report"),
    ],
)
def test_an_unwritable_output_is_refused_before_anything_is_sent(
    tmp_path: Path, option: str, name: str, what: str
) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    emu = Emulator()
    with emu.serve() as url:
        args = [option, str(tmp_path / name)]
        if option != "--report":
            args += ["--report", str(tmp_path / "r.json")]
        code, err = _apply(url, tmp_path, *args)
    assert code == 2, err
    assert f"cannot write {what}" in err and len(err.strip().splitlines()) == 1
    assert emu.store.items(4) == []  # nothing was written to the portal


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device needs root")
def test_devices_and_fifos_are_written_in_place_never_replaced(tmp_path: Path) -> None:
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of the test's own
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    read: list[bytes] = []

    def reader() -> None:  # the pre-flight check opens and closes the FIFO once: read until the summary
        while not read or not read[-1]:
            with fifo.open("rb") as stream:
                read.append(stream.read())

    listening = threading.Thread(target=reader, daemon=True)
    listening.start()
    emu = Emulator()
    with emu.serve() as url:
        code, err = _apply(
            url, tmp_path, "--report", str(device), "--junit", str(device), "--markdown", str(fifo)
        )
    listening.join(timeout=30)
    assert code == 0, err
    assert b"b24sync apply succeeded" in b"".join(read)  # the Markdown summary went through the FIFO
    assert stat.S_ISCHR(device.stat().st_mode)
    assert "this run's journal is" in err  # a device has no folder for a journal beside it
    assert list((tmp_path / "state" / "b24sync" / "journals").iterdir()) == []  # removed: it succeeded
    assert stat.S_ISFIFO(fifo.stat().st_mode)
