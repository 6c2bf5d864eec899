"""The report file's fast encoder and the lean forms of ``--report-results``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from b24sync.report.files import dump_report, iter_report, read_report, write_report
from b24sync.report.model import LEAN_ABOVE, BatchResult
from tests.helpers.report_samples import mixed_steps, report, step

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


def old_dump(value: Any) -> str:
    """What the report file was before the fast encoder: json.dumps of the model's JSON data (a full
    report has no ``methods``: that is what a lean report's entries leave out)."""
    return json.dumps(value.model_dump(mode="json", exclude={"methods"}), ensure_ascii=False, indent=2) + "\n"


@settings(max_examples=200, deadline=None)
@given(json_values, st.floats(min_value=0, max_value=1e6), st.text())
def test_a_full_report_is_byte_for_byte_what_json_dumps_wrote(result: Any, seconds: float, text: str) -> None:
    built = report(
        [*mixed_steps(), step("h", result=result, summary=text[:200])],
        duration_s=seconds,
        limit_wait_s=seconds,
    )
    assert dump_report(built, "full") == old_dump(built)


def test_small_floats_and_lone_surrogates_keep_the_old_bytes() -> None:
    for result in (1e-05, -2.5e-06, [3.2e-07, "0.00001"], json.loads('"\\ud800"')):
        built = report([step("a", result=result)], duration_s=9.99e-05)
        assert dump_report(built, "full") == old_dump(built)


def test_a_long_full_report_is_written_in_pieces_with_the_same_bytes(tmp_path: Path) -> None:
    # past a few hundred entries a full report goes out a chunk of entries at a time; a small float,
    # a lone surrogate and a clean chunk each keep the bytes json.dumps wrote
    odd = {7: 1e-05, 450: json.loads('"\\ud800"'), 901: [3.2e-07, "x"]}
    steps = [
        step(f"s{n}", created_id=n + 1, result=odd.get(n, {"item": {"id": n + 1, "title": f"T {n}"}}))
        for n in range(1_001)
    ]
    built = report(steps)
    pieces = list(iter_report(built, "full"))
    assert len(pieces) > 5
    assert max(len(piece) for piece in pieces) < len("".join(pieces)) / 4
    assert "".join(pieces) == old_dump(built)
    path = tmp_path / "r.json"
    write_report(built, path, "full")
    assert read_report(path) == built


def test_ids_keeps_outcome_id_and_error_one_line_per_entry(tmp_path: Path) -> None:
    built = report(mixed_steps())
    path = tmp_path / "r.json"
    write_report(built, path, "ids")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index('  "steps": [')
    # each step's method once, in the head; an entry leaves it out (and a key its name gives)
    assert json.loads(text)["methods"] == {s.step: s.method for s in built.steps}
    assert lines[start + 1] == (
        '    {"step":"a","command_key":"a","status":"succeeded","batch_index":0,"attempts":1,"created_id":1},'
    )
    assert lines[start + 3] == (
        '    {"step":"c","command_key":"c","status":"failed","batch_index":0,'
        '"attempts":1,"error_code":"","error_description":"Access denied."},'
    )
    again = read_report(path)
    assert again.results == "ids"
    fields = ("command_key", "method", "status", "created_id", "error_code", "skip_reason")
    assert [tuple(getattr(s, f) for f in fields) for s in again.steps] == [
        tuple(getattr(s, f) for f in fields) for s in built.steps
    ]
    assert all(s.result is None and s.summary is None for s in again.steps)
    assert again.totals == built.totals


def test_none_drops_the_created_ids_too(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_report(report(mixed_steps()), path, "none")
    again = read_report(path)
    assert again.results == "none"
    assert all(s.created_id is None for s in again.steps)
    assert [s.status for s in again.steps] == [s.status for s in mixed_steps()]


def test_big_runs_are_lean_by_default_and_small_ones_full() -> None:
    small = report(mixed_steps())
    assert json.loads(dump_report(small))["results"] == "full"
    count = LEAN_ABOVE + 1
    steps = [step(f"k{i}", created_id=i, result={"item": {"id": i}}, attempts=1) for i in range(count)]
    batches = [BatchResult(index=0, commands=count, attempts=1, duration_s=0.1)]
    big = report(steps, batches=batches)
    text = dump_report(big)
    assert json.loads(text)["results"] == "ids"
    assert '"result"' not in text
    assert json.loads(dump_report(big, "full"))["results"] == "full"


def test_compact_entries_share_their_field_set_and_write_the_same_report() -> None:
    from b24sync.report.model import compact

    plain = mixed_steps()
    shared = [compact(each.model_copy()) for each in mixed_steps()]
    assert [each.model_dump() for each in shared] == [each.model_dump() for each in plain]
    assert [each.model_fields_set for each in shared] == [each.model_fields_set for each in plain]
    same = [each for each in shared if each.model_fields_set == shared[3].model_fields_set]  # d and e
    assert len(same) > 1 and all(
        each.__pydantic_fields_set__ is same[0].__pydantic_fields_set__ for each in same
    )
    changed = shared[0].model_copy(update={"attempts": 9})
    assert changed.attempts == 9 and "attempts" in changed.model_fields_set
    assert shared[0].model_fields_set == plain[0].model_fields_set  # the shared set was not touched
    for results in ("full", "ids", "none"):
        assert dump_report(report(shared), results) == dump_report(report(plain), results)


def test_a_secret_in_any_chunk_of_a_big_report_is_redacted() -> None:
    from b24sync.client.redaction import Redactor
    from b24sync.report.model import redacted

    entries = [step(f"s{i}", created_id=i, attempts=1) for i in range(4_500)]
    clean = report(entries)
    redact = Redactor("hunter2-secret")
    assert redacted(clean, redact) is clean
    entries[4_321] = step(
        "late", "failed", error_code="E", error_description="echoed hunter2-secret", attempts=1
    )
    dirty = redacted(report(entries), redact)
    assert dirty.steps[4_321].error_description == "echoed ***" and "hunter2" not in dirty.model_dump_json()


def test_a_report_written_in_pieces_is_the_same_bytes_as_one_text(tmp_path: Path) -> None:
    big = report([step(f"s{i}", created_id=i, attempts=1) for i in range(3)] + mixed_steps())
    for results in ("full", "ids", "none", None):
        pieces = list(iter_report(big, results))
        assert len(pieces) > 1 or results in ("full", None)
        path = tmp_path / f"r-{results}.json"
        write_report(big, path, results)
        assert path.read_text(encoding="utf-8") == "".join(pieces) == dump_report(big, results)
        assert read_report(path).steps[0].created_id == (None if results == "none" else 0)
    empty = report([])
    assert "".join(iter_report(empty, "ids")) == dump_report(empty, "full").replace('"full"', '"ids"')


def _upsert_like() -> list[Any]:
    # one step whose instances are created or updated, keys made of their names or not
    return [
        step("contact", instance="ann@x.org", command_key="contact_ann_x_org", created_id=5, attempts=1),
        step(
            "contact",
            instance="bob@x.org",
            command_key="contact_bob_x_org",
            method="crm.item.update",
            attempts=1,
        ),
        step("contact", instance="Bob@x.org", command_key="contact_bob_x_org_2", created_id=6, attempts=1),
        step("contact", instance="---", command_key="contact_3", created_id=7, attempts=1),
        step("deal", instance="d1", command_key="deal_d1", method="crm.item.add", created_id=8, attempts=1),
        step("task", command_key="task", method="tasks.task.add", created_id="9", attempts=1),
    ]


def test_a_lean_report_reads_back_every_key_and_method_it_left_out(tmp_path: Path) -> None:
    from b24sync.report.model import Entries

    entries = _upsert_like()
    columns = Entries()
    columns.extend(entries)
    kept = ("step", "instance", "command_key", "method", "status", "batch_index", "attempts", "created_id")
    for steps in (entries, columns):
        path = tmp_path / "r.json"
        write_report(report(list(steps)), path, "ids")
        text = path.read_text(encoding="utf-8")
        assert json.loads(text)["methods"] == {
            "contact": "crm.item.add",
            "deal": "crm.item.add",
            "task": "tasks.task.add",
        }
        lines = [line for line in text.splitlines() if line.startswith('    {"step":"contact"')]
        # kept: the update's method, and the keys a name does not give (a suffix, a name of no letter)
        assert ['"method"' in line for line in lines] == [False, True, False, False]
        assert ['"command_key"' in line for line in lines] == [False, False, True, True]
        again = read_report(path)
        assert [tuple(getattr(s, f) for f in kept) for s in again.steps] == [
            tuple(getattr(s, f) for f in kept) for s in entries
        ]
