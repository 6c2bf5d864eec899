"""One long-lived ``php`` process that decodes query strings with the real ``parse_str``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

_SCRIPT = r"""
while (($line = fgets(STDIN)) !== false) {
    $out = [];
    parse_str(rtrim($line, "\n"), $out);
    echo json_encode($out, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
}
"""


class PhpParseStr:
    """Feeds one query per line to php and reads back the decoded structure as JSON."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["php", "-r", _SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def __call__(self, query: str) -> Any:
        assert "\n" not in query
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(query + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def require_php() -> None:
    """Skip when php is missing on a developer machine; in CI its absence is a failure."""
    if shutil.which("php") is None:
        if os.environ.get("CI"):
            pytest.fail("php is not installed: .ci/run must install php-cli")
        pytest.skip("php is not installed (apt-get install php-cli) - PHP round-trip tests skipped")
