"""A requests transport that answers from a script, recording what the client sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import BaseAdapter

WEBHOOK = "https://portal.example.com/rest/7/s3cr3tC0de42/"
SECRET = "s3cr3tC0de42"

Step = Callable[[requests.PreparedRequest], requests.Response] | BaseException | tuple[int, Any]


def respond(
    request: requests.PreparedRequest, status: int, body: Any, content_type: str = "application/json"
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.request = request
    response.url = request.url or ""
    response.headers["Content-Type"] = content_type
    response._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return response


class ScriptedAdapter(BaseAdapter):
    """Each request consumes the next step: an exception to raise, (status, body), or a function."""

    def __init__(self, *steps: Step) -> None:
        super().__init__()
        self.steps = list(steps)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected request {len(self.sent)}")
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, tuple):
            status, body = step
            return respond(request, status, body)
        return step(request)

    def close(self) -> None:
        pass

    def payload(self, index: int = -1) -> Any:
        body = self.sent[index].body
        assert isinstance(body, bytes)
        return json.loads(body)

    def paths(self) -> list[str]:
        return [r.path_url for r in self.sent]


def session_with(adapter: ScriptedAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class FakeTime:
    """A clock that advances only when the client sleeps."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def ok(result: Any, **extra: Any) -> tuple[int, Any]:
    return 200, {"result": result, "time": {"start": 1.0, "finish": 1.1, "duration": 0.1}, **extra}


def batch_ok(
    result: Any = None, result_error: Any = None, total: Any = None, nexts: Any = None, times: Any = None
) -> tuple[int, Any]:
    return ok(
        {
            "result": result if result is not None else [],
            "result_error": result_error or [],
            "result_total": total or [],
            "result_next": nexts or [],
            "result_time": times or [],
        }
    )
