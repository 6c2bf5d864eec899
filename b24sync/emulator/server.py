"""The emulator over real HTTP: a threaded ``http.server`` on loopback, optionally with TLS."""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from b24sync.emulator.request import HttpRequest
from b24sync.emulator.state import EmulatorError
from b24sync.emulator.tls import ensure_certificates

if TYPE_CHECKING:
    from b24sync.emulator.app import Emulator

MAX_BODY = 64 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 drops the SYNs of a client opening many connections at once (as
    # fast_bitrix24 does, up to 50); the kernel resends them 1 s, 3 s, ... later. A portal behind
    # nginx (backlog 511) accepts them all, so the emulator does too.
    request_queue_size = 511

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, each keep-alive answer waits ~40 ms
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def _answer(self) -> None:
        try:
            body = self._body()
        except ValueError:
            body = None
        if body is None:
            self._send(
                400, b'{"error":"INVALID_REQUEST","error_description":"Bad request body"}', "application/json"
            )
            self.close_connection = True
            return
        response = self.server.emulator.handle(
            HttpRequest(verb=self.command, target=self.path, headers=dict(self.headers.items()), body=body)
        )
        if response.drop:
            # the request was processed; the client gets no answer at all
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response.status, response.body, response.content_type)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the webhook token, which must never be printed."""


class EmulatorServer:
    """A running emulator on a socket: start, its URLs, stop."""

    def __init__(
        self,
        emulator: Emulator,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        tls_dir: str | Path | None = None,
    ) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port
        self.tls = tls
        self.tls_dir = Path(tls_dir) if tls_dir is not None else None
        self.certificate: Path | None = None
        """With TLS: the CA certificate clients trust (kept in ``tls_dir``, else gone at ``stop``)."""
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind, optionally wrap in TLS, and serve in a daemon thread."""
        try:
            server = _Server((self.host, self.port), self.emulator)
        except (OSError, OverflowError) as error:
            raise EmulatorError(f"cannot listen on {self.host}:{self.port}: {error}") from error
        if self.tls:
            if self.tls_dir is None:
                self._folder = tempfile.TemporaryDirectory(prefix="b24sync-emulator-")
            folder = self.tls_dir or Path(self._folder.name if self._folder else "")
            try:
                files = ensure_certificates(folder, self.host)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(files.chain, files.key)
            except ssl.SSLError as error:
                server.server_close()
                raise EmulatorError(
                    f"the TLS files in {folder} cannot be used ({error}): delete the folder to make new ones"
                ) from None
            except BaseException:
                server.server_close()
                if self._folder is not None:
                    self._folder.cleanup()
                    self._folder = None
                raise
            server.socket = context.wrap_socket(server.socket, server_side=True)
            self.certificate = files.ca
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="b24sync-emulator", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The server's root URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def webhook_url(self) -> str:
        """The webhook URL a client should use."""
        return f"{self.url}/rest/{self.emulator.user_id}/{self.emulator.token}/"

    def stop(self) -> None:
        """Stop serving and release the socket and the certificate files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
