"""The run journal: written before each request, replayed after a kill, read by --resume."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import pytest
import requests
from pydantic import JsonValue

from b24sync.client import B24Hook
from b24sync.client.redaction import Redactor
from b24sync.emulator import Emulator
from b24sync.errors import UsageError
from b24sync.run.executor import execute
from b24sync.run.journal import CARRIED_PER_LINE, JournalWriter, Outcome, journal_path, read_journal
from b24sync.run.workflow import apply

PIPELINE = """\
version: 1
name: journal
steps:
  - id: company
    method: crm.item.add
    params: {entityTypeId: 4, fields: {title: Acme}}
  - id: contact
    for_each: [a, b, c]
    method: crm.item.add
    params: {entityTypeId: 3, fields: {name: "{{ item }}", companyId: "{{ steps.company.item.id }}"}}
"""


def _pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    return path


def test_replay_says_succeeded_unknown_and_not_reached(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    writer = JournalWriter(path)
    writer.start("r" * 32, {"path": "p.yaml", "sha256": "s"}, "https://x/rest/1/***/", "2026-01-01T00:00:00Z")
    writer.record_sending(1, ["a", "b", "c"], repeatable=set())
    writer.record_answer(
        1, {"a": Outcome("succeeded", {"item": {"id": 7}}), "b": Outcome("failed", None, "E")}
    )
    writer.record_sending(2, ["c", "d", "r"], repeatable={"r"})  # killed: no answer
    writer.close()
    state = read_journal(path)
    assert state.succeeded() == {"a": {"item": {"id": 7}}}
    assert state.outcomes["b"].status == "failed"
    assert state.unknown() == ["c", "d"]  # "r" is a read: sent again, never unknown
    assert [run.pipeline_sha256 for run in state.runs] == ["s"]


def test_a_resumed_run_carries_a_big_run_in_lines_of_bounded_size(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    carried: dict[str, JsonValue] = {
        f"contact_{i}": {"item": {"id": i}} for i in range(CARRIED_PER_LINE * 2 + 7)
    }
    writer = JournalWriter(path)
    writer.start("r" * 32, {"path": "p.yaml", "sha256": "s"}, "https://x/rest/1/***/", "2026-01-01T00:00:00Z")
    writer.record_carried(carried)
    writer.close()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    sizes = [len(line["carried"]) for line in lines if "carried" in line]
    assert sizes == [CARRIED_PER_LINE, CARRIED_PER_LINE, 7]
    assert read_journal(path).succeeded() == carried  # every result back, none lost at a line's end


def test_a_last_line_cut_by_a_kill_is_ignored_and_a_damaged_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    writer = JournalWriter(path)
    writer.record_sending(1, ["a"], repeatable=set())
    writer.close()
    with path.open("ab") as handle:
        handle.write(b'{"answer": 1, "outco')
    assert read_journal(path).unknown() == ["a"]
    path.write_bytes(b'{"answer": 1, "outco\n{"sending": 2, "keys": [], "repeatable": []}\n')
    with pytest.raises(UsageError, match="line 1 is not a journal entry"):
        read_journal(path)


def test_every_line_is_redacted(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    writer = JournalWriter(path, Redactor("hunter2"))
    writer.record_sending(1, ["a"], repeatable=set())
    writer.record_answer(1, {"a": Outcome("failed", None, "E", "echoed hunter2")})
    writer.close()
    assert "hunter2" not in path.read_text() and "***" in path.read_text()


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, int, dict[str, str]]] = []

    def record_sending(self, request_id: int, keys: Sequence[str], repeatable: Collection[str]) -> None:
        self.lines.append(("sending", request_id, dict.fromkeys(keys, "sending")))

    def record_answer(self, request_id: int, outcomes: Mapping[str, Outcome]) -> None:
        self.lines.append(("answer", request_id, {k: o.status for k, o in outcomes.items()}))


def test_the_executor_records_each_request_before_sending_it(tmp_path: Path) -> None:
    from b24sync.pipeline import load_pipeline
    from b24sync.planning.planner import plan

    emu = Emulator()
    the_plan = plan(load_pipeline(str(_pipeline(tmp_path))))
    sent_before: list[int] = []
    recorder = _Recorder()
    session = emu.mount(requests.Session())
    original = session.send

    def send(request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        sent_before.append(len(recorder.lines))  # what the journal held when the request went out
        return original(request, **kwargs)  # type: ignore[arg-type]

    session.send = send  # type: ignore[method-assign]
    client = B24Hook(emu.webhook_url, session=session, rate_limit=None)
    execute(the_plan, client, journal=recorder)
    assert recorder.lines[0][0] == "sending" and sent_before[0] == 1
    answered = {k: v for kind, _, line in recorder.lines if kind == "answer" for k, v in line.items()}
    assert set(answered.values()) == {"succeeded"} and len(answered) == 4


def test_resume_from_a_journal_whose_report_was_never_written(tmp_path: Path) -> None:
    emu = Emulator()
    pipeline = _pipeline(tmp_path)
    report = tmp_path / "r.json"
    first = apply(str(pipeline), emu, report=str(report))
    assert first.status == "succeeded" and not journal_path(report).exists()
    sha = first.plan.pipeline.sha256
    # what a run killed after its first request leaves: a journal, no report
    report.unlink()
    writer = JournalWriter(journal_path(report))
    writer.start("r" * 32, {"path": str(pipeline), "sha256": sha}, "t", "2026-01-01T00:00:00Z")
    company = next(s for s in first.report.steps if s.step == "company")
    writer.record_sending(1, [company.command_key], repeatable=set())
    writer.record_answer(1, {company.command_key: Outcome("succeeded", company.result)})
    contact_a = next(s for s in first.report.steps if s.name == "contact[0]")
    writer.record_sending(2, [contact_a.command_key], repeatable=set())
    writer.close()
    with pytest.raises(UsageError, match=r"1 step\(s\) of .* unknown outcome \(contact\[0\]\)"):
        apply(str(pipeline), emu, report=str(report), resume=str(report))
    before = len(emu.store.items(4))
    from b24sync.run.resume import Assume

    again = apply(str(pipeline), emu, report=str(report), resume=str(report), assume=Assume.NOT_APPLIED)
    assert again.status == "succeeded"
    assert len(emu.store.items(4)) == before  # the company of the journal was not sent again
    entry = next(s for s in again.report.steps if s.step == "company")
    assert entry.created_id == company.created_id and entry.attempts == 0


def test_a_left_journal_refuses_a_fresh_run_before_anything_is_sent(tmp_path: Path) -> None:
    emu = Emulator(state_path=None)
    pipeline = _pipeline(tmp_path)
    report = tmp_path / "r.json"
    journal_path(report).write_text('{"sending": 1, "keys": ["company"], "repeatable": []}\n')
    with pytest.raises(UsageError, match=f"finish it with --resume {report}"):
        apply(str(pipeline), emu, report=str(report))
    assert emu.store.items(4) == []  # the portal was read (the field contract), never written


def test_a_report_of_another_pipeline_is_refused(tmp_path: Path) -> None:
    emu = Emulator()
    pipeline = _pipeline(tmp_path)
    report = tmp_path / "r.json"
    apply(str(pipeline), emu, report=str(report))
    pipeline.write_text(PIPELINE.replace("Acme", "Acme Ltd"), encoding="utf-8")
    with pytest.raises(UsageError, match="another pipeline or of an earlier version"):
        apply(str(pipeline), emu, report=str(report), resume=str(report))


def test_without_a_report_the_journal_goes_to_the_state_folder_and_stays_when_unfinished(
    tmp_path: Path,
) -> None:
    emu = Emulator()
    pipeline = _pipeline(tmp_path)
    environ = {"XDG_STATE_HOME": str(tmp_path / "state")}
    with emu.serve() as url:
        done = apply(str(pipeline), url, environ=environ)
        assert done.status == "succeeded" and done.journal is None
        assert list((tmp_path / "state" / "b24sync" / "journals").iterdir()) == []
        stopped = apply(str(pipeline), url, environ=environ, should_stop=lambda: True)
    assert stopped.status == "interrupted" and stopped.journal is not None
    assert stopped.journal.parent == tmp_path / "state" / "b24sync" / "journals"
    assert json.loads(stopped.journal.read_text().splitlines()[0])["pipeline"]["path"] == str(pipeline)


def test_the_journal_keeps_what_links_read_and_the_created_id() -> None:
    from b24sync.run.journal import pruned

    item: JsonValue = {"item": {"id": 7, "title": "Acme", "fm": [{"value": "a@x.org"}], "big": "x" * 1000}}
    assert pruned(item, ()) == {"item": {"id": 7}}
    assert pruned(item, {("item", "title"), ("item", "fm", 0, "value")}) == {
        "item": {"id": 7, "title": "Acme", "fm": [{"value": "a@x.org"}]}
    }
    assert pruned(46, ()) == 46  # old CRM add methods answer with the bare id
    assert pruned({"a": {"b": 1}}, {("a", "missing")}) is None  # nothing a link can read: nothing kept


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a disk that is always full)")
@pytest.mark.parametrize("full", ["report", "junit"])
def test_a_file_that_cannot_be_written_after_the_run_says_how_to_finish_it(tmp_path: Path, full: str) -> None:
    # the requests went out: told only "choose a writable path", a user would send them all again
    emu = Emulator(state_path=None)
    pipeline = _pipeline(tmp_path)
    report = tmp_path / "r.json"
    journal = tmp_path / "run.journal"
    files = (
        {"report": "/dev/full", "journal": journal}
        if full == "report"
        else {"report": report, "junit": "/dev/full"}
    )
    with pytest.raises(UsageError) as caught:
        apply(str(pipeline), emu, **files)  # type: ignore[arg-type]
    kept = journal if full == "report" else journal_path(report)
    message = str(caught.value)
    assert message.startswith(f"cannot write {'report' if full == 'report' else 'JUnit report'} /dev/full")
    assert "The run itself ended (succeeded: 4 of 4 steps succeeded)" in message
    assert f"--resume {kept}" in message and "\n" not in message
    created = len(emu.store.items(3))
    again = apply(str(pipeline), emu, report=str(report), junit=str(tmp_path / "j.xml"), resume=str(kept))
    assert again.status == "succeeded" and again.report.totals.commands == 0
    assert len(emu.store.items(3)) == created == 3  # nothing sent twice
    assert report.exists() and (tmp_path / "j.xml").exists() and not kept.exists()
