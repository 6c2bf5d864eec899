"""A ``requests`` transport adapter that hands requests to an in-process ``Emulator``."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from b24sync.emulator.request import HttpRequest

if TYPE_CHECKING:
    from b24sync.emulator.app import Emulator


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    read = getattr(body, "read", None)
    if callable(read):
        data = read()
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    return b"".join(chunk if isinstance(chunk, bytes) else str(chunk).encode("utf-8") for chunk in body)


class EmulatorAdapter(BaseAdapter):
    """Answers every request of a mounted session from the emulator, without a socket."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Process the request in-process; a dropped connection raises after processing."""
        answer = self.emulator.handle(
            HttpRequest(
                verb=(request.method or "GET").upper(),
                target=request.url or "/",
                headers=dict(request.headers),
                body=_body_bytes(request.body),
            )
        )
        if answer.drop:
            raise requests.exceptions.ConnectionError(
                "the emulator dropped the connection after processing the request", request=request
            )
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.body
        response.headers = CaseInsensitiveDict(
            {"Content-Type": answer.content_type, "Content-Length": str(len(answer.body))}
        )
        response.url = request.url or ""
        response.request = request
        response.reason = HTTPStatus(answer.status).phrase
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        """Nothing to release: there is no socket."""
