"""A data file that several steps read is read from the disk once, and each step sees it whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import b24sync.pipeline.sources.csvfile as csvfile
import b24sync.pipeline.sources.structured as structured
from b24sync.errors import PipelineError
from b24sync.pipeline import load_pipeline

CHAINS = """\
version: 1
name: chains
lookups:
  names: {{file: {data}, key: "{{{{ row.id }}}}"}}
steps:
  - id: company
    for_each: {{file: {data}}}
    key: "{{{{ item.id }}}}"
    method: crm.item.add
    params: {{entityTypeId: 4, fields: {{title: "Company {{{{ item.n }}}}"}}}}
  - id: contact
    for_each: {{file: {data}}}
    key: "{{{{ item.id }}}}"
    method: crm.item.add
    params:
      entityTypeId: 3
      fields:
        name: "{{{{ lookups.names[item.id].n }}}}"
        companyId: "{{{{ steps.company[item.id].item.id }}}}"
"""


def _counting(monkeypatch: pytest.MonkeyPatch, module: object) -> list[str]:
    opened: list[str] = []
    original = module.open_binary  # type: ignore[attr-defined]

    def counted(path: str) -> io.BufferedReader:
        opened.append(path)
        return original(path)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "open_binary", counted)
    return opened


@pytest.mark.parametrize("data", ["rows.json", "rows.csv"])
def test_two_steps_and_a_lookup_over_one_file_read_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: str
) -> None:
    rows = [{"id": f"c{i}", "n": str(i)} for i in range(30)]
    if data.endswith(".json"):
        (tmp_path / data).write_text(json.dumps(rows))
    else:
        (tmp_path / data).write_text("id,n\n" + "".join(f"{r['id']},{r['n']}\n" for r in rows))
    (tmp_path / "p.yaml").write_text(CHAINS.format(data=data))
    opened = _counting(monkeypatch, structured if data.endswith(".json") else csvfile)
    (tmp_path / "one.yaml").write_text(
        CHAINS.format(data=data)
        .split("  - id: contact")[0]
        .replace("lookups:\n  names: {file: " + data + ', key: "{{ row.id }}"}\n', "")
    )
    load_pipeline(str(tmp_path / "one.yaml"))
    alone = len(opened)
    opened.clear()
    pipeline = load_pipeline(str(tmp_path / "p.yaml"))
    assert len(opened) == alone  # three readers open the file as often as one does
    company, contact = pipeline.steps
    assert [i.name for i in company.expansion.instances] == [r["id"] for r in rows]
    names = [i.params["fields"]["name"] for i in contact.expansion.instances]  # type: ignore[index]
    assert names == [r["n"] for r in rows]
    # every reader keeps its own record of what it read, the same file each time
    reads = pipeline.sources
    assert [r.where for r in reads] == ["lookups.names", "steps[0].for_each", "steps[1].for_each"]
    assert len({(r.sha256, r.rows) for r in reads}) == 1


def test_a_file_with_a_bad_row_is_reported_for_each_step_that_reads_it(tmp_path: Path) -> None:
    (tmp_path / "rows.json").write_text('[{"id": "a", "n": "1"}, 5]')
    steps = "".join(
        f"""  - id: s{n}
    for_each: {{file: rows.json}}
    key: "{{{{ item.id }}}}"
    method: crm.item.add
    params: {{entityTypeId: 3, fields: {{name: x}}}}
"""
        for n in (1, 2)
    )
    (tmp_path / "p.yaml").write_text("version: 1\nname: bad\nsteps:\n" + steps)
    with pytest.raises(PipelineError) as raised:
        load_pipeline(str(tmp_path / "p.yaml"))
    # the bad row, once for each step, as when each read the file itself
    assert [p.location.split(".")[0] for p in raised.value.problems] == ["steps[0]", "steps[1]"]
    assert all("rows.json:1" in str(p) for p in raised.value.problems)
