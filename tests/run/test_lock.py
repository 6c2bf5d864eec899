"""One apply at a time per (portal, pipeline): the lock itself, and two real runs at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.errors import UsageError
from b24sync.run.lock import run_lock
from tests.run.test_journal_kill import _apply, _project, _records, _sent, server

__all__ = ["server"]  # the emulator server fixture, shared with the kill tests


def test_a_second_holder_waits_then_fails_naming_the_first(tmp_path: Path) -> None:
    waited: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    def clock() -> float:
        return now[0]

    with run_lock("https://p/rest/1/***/", "p.yaml", folder=tmp_path):
        refused = r"another b24sync apply of p.yaml .* is running \(pid \d+\)"
        second = run_lock("https://p/rest/1/***/", "p.yaml", 1.0, folder=tmp_path, sleep=sleep, clock=clock)
        with pytest.raises(UsageError, match=refused), second:
            pass
        with run_lock("https://p/rest/1/***/", "other.yaml", 0.0, folder=tmp_path):
            pass  # another pipeline is not held up
    assert sum(waited) == pytest.approx(1.0)
    with run_lock("https://p/rest/1/***/", "p.yaml", 0.0, folder=tmp_path):
        pass  # released with its holder


def test_two_applies_at_once_of_one_upsert_pipeline_create_nothing_twice(server: str, tmp_path: Path) -> None:
    pipeline = _project(tmp_path)
    first = _apply(server, pipeline, tmp_path / "one.json")
    second = _apply(server, pipeline, tmp_path / "two.json")
    for run in (first, second):
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, out + err
    contacts, deals, _ = _records(server)
    assert set(contacts.values()) == {1} and set(deals.values()) == {1}


def test_a_second_apply_gives_up_after_the_lock_timeout_having_sent_nothing(
    server: str, tmp_path: Path
) -> None:
    pipeline = _project(tmp_path)
    journal = tmp_path / "one.json.journal"
    # four requests a second: the first run holds the lock for seconds, whatever the second's start-up costs
    first = _apply(server, pipeline, tmp_path / "one.json", "--rate-limit", "1/4")
    while _sent(journal) < 1 and first.poll() is None:
        pass
    second = _apply(server, pipeline, tmp_path / "two.json", "--lock-timeout", "0.2")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2 and "another b24sync apply of" in err and "nothing was sent" in err, err
    assert not (tmp_path / "two.json.journal").exists()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err  # the first run was not disturbed by the second
