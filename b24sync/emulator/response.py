"""What the emulator answers: the HTTP response value, JSON bodies and the portal's fixed errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

JSON_TYPE = "application/json; charset=utf-8"
NOT_FOUND = {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}
OPERATION_TIME_LIMIT = {
    "error": "OPERATION_TIME_LIMIT",
    "error_description": "Method is blocked due to operation time limit.",
}
INTERNAL = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}


@dataclass(frozen=True)
class HttpResponse:
    """The emulator's answer: status, body and type, or ``drop`` to close without answering."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    drop: bool = False

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


def json_response(status: int, value: Any) -> HttpResponse:
    """A JSON answer."""
    # ASCII with \u escapes, as the portal often sends (protocol §1.4): text holding bytes that are
    # not UTF-8 (kept as surrogate escapes by the PHP parsing) still makes valid JSON
    return HttpResponse(status, json.dumps(value).encode("ascii"))


def error_response(status: int, code: str, description: str) -> HttpResponse:
    """A whole-request error: ``{"error", "error_description"}`` and no ``time`` (protocol §5.6)."""
    return json_response(status, {"error": code, "error_description": description})


def iso_time(moment: float) -> str:
    """A unix time as ISO 8601 with the portal's offset (UTC here), as in ``date_start``."""
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")
