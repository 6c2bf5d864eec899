"""A loopback HTTP server that answers from a script, as a hostile or broken portal would.

The command line under test talks to it over plain http on 127.0.0.1 (allowed for loopback), so
every path of the real client runs: parsing, redirects, redaction, the executor and the report.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]
Script = Callable[[str, dict[str, Any]], Answer]


def json_answer(body: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class HostilePortal:
    """Serves ``script(path, payload)`` for every POST; ``requests`` records what came in."""

    def __init__(self, script: Script, code: str) -> None:
        self.script = script
        self.requests: list[tuple[str, dict[str, Any]]] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = {}
                portal.requests.append((self.path, payload))
                status, headers, body = portal.script(self.path, payload)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rest/1/{code}/"

    @contextmanager
    def running(self) -> Iterator[HostilePortal]:
        thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=5)
