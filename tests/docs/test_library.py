"""Every Python example of docs/library.md runs, in order, against the emulator, so the page cannot rot.

The blocks share one namespace like a session at the prompt. The page's webhook URL is replaced by the
URL of an emulator served on loopback; the ``# prints`` comments stay as documentation.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from b24sync.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC, re.S | re.M)
PAGE_BASE, PAGE_CODE = "https://example.bitrix24.com/rest/1/", "xxxxxxxxxxxxxxxx"


def test_the_page_has_the_seeds_three_examples() -> None:
    code = "\n".join(BLOCKS)
    assert '"ServerTime": {"method": "server.time"}' in code
    assert '"UserProfile": ["user.current", {}]' in code
    assert '["crm.item.add", {"entityTypeId": 3' in code
    assert '"UF_CRM_TASK": ["D_$result[FirstDeal][item][id]"]' in code


def test_every_python_block_runs_against_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert len(BLOCKS) >= 8
    with Emulator(token="docs-token").serve() as url:
        base = url.removesuffix("docs-token/")
        namespace: dict[str, object] = {"__name__": "library_md"}
        printed = io.StringIO()
        for number, block in enumerate(BLOCKS, 1):
            code = block.replace(PAGE_BASE, base).replace(PAGE_CODE, "docs-token")
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"docs/library.md block {number}", "exec"), namespace)
    output = printed.getvalue().splitlines()
    assert output[0] == f"B24Hook({base}***/)"
    assert output[1].startswith("False ['NOT_FOUND: ")
    assert "3" in output  # 120 contacts in three requests
    assert "122" in output and "['Website redesign']" in output
    assert "INVALID_CREDENTIALS" in output
    assert "docs-token" not in printed.getvalue()
    assert output[-3:] == ["1 4", "succeeded 4 1", "[1]"]
