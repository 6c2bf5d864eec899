"""Mutants of the example pipelines and their data: never a traceback, a hang or an exit code past 3.

A different seed each day keeps finding new mutants while any failure stays reproducible from the
seed in its message (``tests/bench/fuzz.py --seed N`` runs the long version by hand).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from tests.helpers.fuzzing import fuzz

CASES = 240


def test_mutated_pipelines_and_data_end_cleanly(tmp_path: Path) -> None:
    seed = int(datetime.date.today().strftime("%Y%m%d"))
    findings = fuzz(tmp_path, seed, cases=CASES, per_case=10.0)
    assert findings.cases == CASES
    assert not findings.failures, f"seed {seed}: " + "; ".join(
        f"{cause} (mutant: {text[:300]!r})" for cause, text in findings.failures.items()
    )
    assert set(findings.exit_codes) <= {0, 1, 2, 3}
