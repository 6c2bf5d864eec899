"""A streamed run (a big data file planned a window at a time) killed with SIGKILL at a random point
is finished by ``--resume`` with every record exactly once, like any other run."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from b24sync.client import B24Hook
from tests.run.test_journal_kill import _apply, _env, _settle_in_flight, _stop_at_random, server

__all__ = ["server"]  # the emulator server fixture of the kill tests

ROWS = 600
PIPELINE = """\
version: 1
name: streamed-adds
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}", originatorId: shop, originId: "{{ item.id }}"}}
"""
# the library's apply with a window of 100 commands: a file of more than 200 rows is streamed
STREAMED = """\
import sys, b24sync
done = b24sync.apply(sys.argv[1], sys.argv[2], report=sys.argv[3], window=100, contract=False)
print(done.streamed, done.status)
"""


def _project(folder: Path) -> Path:
    rows = "".join(f"{i},Name {i}\n" for i in range(ROWS))
    (folder / "rows.csv").write_text("id,name\n" + rows, encoding="utf-8")
    (folder / "sync.yaml").write_text(PIPELINE, encoding="utf-8")
    return folder / "sync.yaml"


def _streamed(url: str, pipeline: Path, report: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", STREAMED, str(pipeline), url, str(report)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _contacts(url: str) -> Counter[str]:
    client = B24Hook.from_webhook_url(url, rate_limit=None)
    found: list[dict[str, object]] = client.call_fast_list_method(
        "crm.item.list", {"entityTypeId": 3, "select": ["id", "originId"]}, id_key="id", items_key="items"
    ).get_data()
    return Counter(str(each["originId"]) for each in found)


def test_the_run_is_streamed(server: str, tmp_path: Path) -> None:
    run = _streamed(server, _project(tmp_path), tmp_path / "r.json")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0 and out.split() == ["True", "succeeded"], err
    assert _contacts(server) == Counter(str(i) for i in range(ROWS))


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_a_streamed_run_killed_at_a_random_point_resumes_to_every_record_once(
    server: str, tmp_path: Path, seed: int
) -> None:
    pipeline = _project(tmp_path)
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    killed = _streamed(server, pipeline, report)
    _stop_at_random(killed, journal, random.Random(seed), signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert not report.exists() and journal.exists()
    _settle_in_flight()
    resumed = _apply(server, pipeline, report, "--resume", str(report))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    assert json.loads(report.read_text())["status"] == "succeeded"
    assert _contacts(server) == Counter(str(i) for i in range(ROWS))
