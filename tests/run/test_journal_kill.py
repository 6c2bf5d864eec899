"""A run killed at a random point (SIGKILL, SIGTERM) is finished by --resume, every record exactly once.

The portal is the real ``b24sync emulator`` server on loopback, and ``apply`` a real process, as a CI
runner that cancels a job or an OOM killer would see them. The kill point is chosen by a seed: after the
N-th request recorded in the run's journal, plus a fraction of a request's latency.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from b24sync.client import B24Hook

CONTACTS = 300  # and as many deals, each linking to its contact: 600 commands, 12 requests of writes
LATENCY_MS = 40
PIPELINE = """\
version: 1
name: killed-sync
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    upsert:
      entity: contact
      match: {originatorId: shop, originId: "{{ item.id }}"}
      fields: {name: "{{ item.name }}"}
  - id: deal
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    upsert:
      entity: deal
      match: {originatorId: shop, originId: "deal-{{ item.id }}"}
      fields: {title: "Order {{ item.id }}", contactId: "{{ steps.contact[item.id].id }}"}
"""

PLAIN = """\
version: 1
name: killed-adds
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}", originatorId: shop, originId: "{{ item.id }}"}}
  - id: deal
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    method: crm.item.add
    params:
      entityTypeId: 2
      fields:
        title: "Order {{ item.id }}"
        originatorId: shop
        originId: "deal-{{ item.id }}"
        contactId: "{{ steps.contact[item.id].item.id }}"
"""
"""Plain adds, no upsert: an unknown add is found again by its originatorId/originId on --resume."""

IMPORTED = PLAIN.replace(
    "    method: crm.item.add\n    params: {entityTypeId: 3",
    "    method: crm.item.add\n    mode: import\n    params: {entityTypeId: 3",
    1,
)
"""The contacts imported (crm.item.batchImport, 20 a command): 1 request of them, then 6 of deals."""


@pytest.fixture
def server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "b24sync", "emulator", "--port", "0", "--latency", str(LATENCY_MS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("B24", "GITHUB_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env.pop("CI", None)
    return env


def _project(tmp_path: Path, text: str = PIPELINE) -> Path:
    rows = ["id,name", *(f"{i},Name {i}" for i in range(CONTACTS))]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = tmp_path / "sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _apply(url: str, pipeline: Path, report: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "b24sync", "apply", str(pipeline), "--webhook", url]
    return subprocess.Popen(
        [*command, "--report", str(report), "--no-progress", "--rate-limit", "off", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=pipeline.parent,
    )


def _sent(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b'"sending"')
    except FileNotFoundError:
        return 0


def _stop_at_random(
    process: subprocess.Popen[str], journal: Path, rng: random.Random, number: int, upto: int = 9
) -> None:
    """Send signal ``number`` after a random count (1 to ``upto``) of requests of this run."""
    after = _sent(journal) + rng.randint(1, upto)  # a resumed run appends to the journal it resumes
    while _sent(journal) < after and process.poll() is None:
        time.sleep(0.002)
    time.sleep(rng.random() * LATENCY_MS / 1000)
    if process.poll() is None:
        process.send_signal(number)


def _records(url: str) -> tuple[Counter[str], Counter[str], dict[str, str]]:
    client = B24Hook.from_webhook_url(url, rate_limit=None)
    select = ["id", "originId", "contactId"]
    contacts: list[dict[str, object]] = client.call_fast_list_method(
        "crm.item.list", {"entityTypeId": 3, "select": select}, id_key="id", items_key="items"
    ).get_data()
    deals: list[dict[str, object]] = client.call_fast_list_method(
        "crm.item.list", {"entityTypeId": 2, "select": select}, id_key="id", items_key="items"
    ).get_data()
    origin_of = {str(c["id"]): str(c["originId"]) for c in contacts}
    links = {str(d["originId"]): origin_of.get(str(d["contactId"]), "?") for d in deals}
    return Counter(str(c["originId"]) for c in contacts), Counter(str(d["originId"]) for d in deals), links


def _assert_exactly_once(url: str) -> None:
    contacts, deals, links = _records(url)
    assert contacts == Counter(str(i) for i in range(CONTACTS))
    assert deals == Counter(f"deal-{i}" for i in range(CONTACTS))
    assert links == {f"deal-{i}": str(i) for i in range(CONTACTS)}  # every deal links to its own contact


def _settle_in_flight() -> None:
    # a request in flight when the client died is still served by the portal: wait it out before reading
    time.sleep(3 * LATENCY_MS / 1000)


@pytest.mark.parametrize(
    ("seed", "text"),
    [(1, PIPELINE), (2, PIPELINE), (3, PIPELINE), (1, PLAIN), (2, PLAIN), (3, PLAIN)],
    ids=["upsert-1", "upsert-2", "upsert-3", "adds-1", "adds-2", "adds-3"],
)
def test_sigkill_at_a_random_point_then_resume_writes_every_record_once(
    server: str, tmp_path: Path, seed: int, text: str
) -> None:
    rng = random.Random(seed)
    pipeline = _project(tmp_path, text)
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    killed = _apply(server, pipeline, report)
    _stop_at_random(killed, journal, rng, signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL  # killed in the middle: writes are left to send
    assert not report.exists() and journal.exists()  # no report, but the journal says what was sent
    _settle_in_flight()
    # a plain rerun is refused: it would not know what the killed run wrote
    refused = _apply(server, pipeline, report)
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 2 and f"--resume {report}" in err, err
    resumed = _apply(server, pipeline, report, "--resume", str(report))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    assert json.loads(report.read_text())["status"] == "succeeded"
    assert not journal.exists()  # the report now holds what the journal said
    _assert_exactly_once(server)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_an_import_killed_at_a_random_point_resumes_to_every_record_once(
    server: str, tmp_path: Path, seed: int
) -> None:
    # the journal records each imported record: a resume imports only those not created
    rng = random.Random(seed)
    pipeline = _project(tmp_path, IMPORTED)
    assert "mode: import" in pipeline.read_text()
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    killed = _apply(server, pipeline, report)
    _stop_at_random(killed, journal, rng, signal.SIGKILL, upto=5)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    _settle_in_flight()
    resumed = _apply(server, pipeline, report, "--resume", str(report))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    _assert_exactly_once(server)


BIG_IMPORT = """\
version: 1
name: killed-import
steps:
  - id: contact
    for_each: {file: rows.csv}
    key: "{{ item.id }}"
    mode: import
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item.name }}", originatorId: shop, originId: "{{ item.id }}"}}
"""
"""A lone import of more rows than ``apply`` plans whole (10,000): planned and resumed a window at a time."""
BIG_ROWS = 10_500  # 13 requests of 840 records


@pytest.mark.parametrize("seed", [1, 2])
def test_a_big_streamed_import_killed_at_a_random_point_resumes_to_every_record_once(
    server: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    rows = ["id,name", *(f"{i},Name {i}" for i in range(BIG_ROWS))]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    pipeline = tmp_path / "sync.yaml"
    pipeline.write_text(BIG_IMPORT, encoding="utf-8")
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    killed = _apply(server, pipeline, report)
    _stop_at_random(killed, journal, rng, signal.SIGKILL, upto=12)
    killed.communicate(timeout=120)
    assert killed.returncode == -signal.SIGKILL
    _settle_in_flight()
    resumed = _apply(server, pipeline, report, "--resume", str(report))
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out + err
    contacts = _records(server)[0]
    assert contacts == Counter(str(i) for i in range(BIG_ROWS))  # every row once: none lost, none twice


@pytest.mark.parametrize(("seed", "number", "code"), [(4, signal.SIGTERM, 143), (5, signal.SIGHUP, 129)])
def test_sigterm_finishes_the_request_in_flight_writes_the_report_and_exits_143(
    server: str, tmp_path: Path, seed: int, number: int, code: int
) -> None:
    rng = random.Random(seed)
    pipeline = _project(tmp_path)
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    stopped = _apply(server, pipeline, report)
    _stop_at_random(stopped, journal, rng, number)
    _, err = stopped.communicate(timeout=60)
    assert stopped.returncode == code, err
    written = json.loads(report.read_text())
    assert written["status"] == "interrupted"
    assert written["totals"]["unknown"] == 0  # the request in flight was finished, not abandoned
    assert f"--resume {report}" in err
    resumed = _apply(server, pipeline, report, "--resume", str(report))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    _assert_exactly_once(server)


def test_a_killed_resume_is_resumed_again(server: str, tmp_path: Path) -> None:
    rng = random.Random(7)
    pipeline = _project(tmp_path)
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    for _ in range(3):
        extra = ("--resume", str(report)) if report.exists() or journal.exists() else ()
        run = _apply(server, pipeline, report, *extra)
        _stop_at_random(run, journal, rng, signal.SIGKILL, upto=3)
        run.communicate(timeout=60)
        assert run.returncode == -signal.SIGKILL
        _settle_in_flight()
    last = _apply(server, pipeline, report, "--resume", str(report))
    out, err = last.communicate(timeout=120)
    assert last.returncode == 0, out + err
    _assert_exactly_once(server)


@pytest.mark.parametrize(
    ("seed", "text"), [(11, PLAIN), (12, PLAIN), (13, PIPELINE)], ids=["adds-11", "adds-12", "upsert-13"]
)
def test_a_parallel_run_killed_at_a_random_point_resumes_to_every_record_once(
    server: str, tmp_path: Path, seed: int, text: str
) -> None:
    # four requests in flight when the kill lands: the journal names each of them before it left
    rng = random.Random(seed)
    pipeline = _project(tmp_path, text)
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    killed = _apply(server, pipeline, report, "--parallel", "4")
    _stop_at_random(killed, journal, rng, signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert not report.exists() and journal.exists()
    _settle_in_flight()
    resumed = _apply(server, pipeline, report, "--resume", str(report), "--parallel", "4")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    assert json.loads(report.read_text())["status"] == "succeeded"
    _assert_exactly_once(server)


def test_sigterm_on_a_parallel_run_settles_every_request_in_flight(server: str, tmp_path: Path) -> None:
    rng = random.Random(14)
    pipeline = _project(tmp_path)
    report = tmp_path / "report.json"
    journal = tmp_path / "report.json.journal"
    stopped = _apply(server, pipeline, report, "--parallel", "4")
    _stop_at_random(stopped, journal, rng, signal.SIGTERM)
    _, err = stopped.communicate(timeout=60)
    assert stopped.returncode == 143, err
    written = json.loads(report.read_text())
    assert written["status"] == "interrupted"
    assert written["totals"]["unknown"] == 0  # every request in flight got its answer and was recorded
    resumed = _apply(server, pipeline, report, "--resume", str(report), "--parallel", "4")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out + err
    _assert_exactly_once(server)
