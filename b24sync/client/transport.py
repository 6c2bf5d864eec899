"""One HTTP exchange with the portal, told apart by what the client must do next (protocol §6, §7.4).

``exchange`` never raises for a network failure: it says whether anything left the machine
(``sent``), because a request that was sent and lost may have run (protocol §7.4).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from pydantic_core import from_json

from b24sync.errors import TransportError

REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed HTTP answer: status and JSON body (a redirect keeps only its ``location``)."""

    status: int
    body: dict[str, Any]

    @property
    def code(self) -> str | None:
        """The whole-request ``error`` code (may be ``""``), or ``None`` when there is none."""
        return str(self.body.get("error", "")) if "error" in self.body else None

    @property
    def description(self) -> str:
        """The ``error_description`` of an error answer, as given."""
        return str(self.body.get("error_description", ""))

    @property
    def is_redirect(self) -> bool:
        """Whether the portal answered with a redirect (renamed portal, protocol §1.1)."""
        return self.status in REDIRECTS


@dataclass(frozen=True, slots=True)
class Exchange:
    """What one try gave: an answer, or the problem that kept it away and whether the request left."""

    answer: Answer | None
    problem: str | None
    sent: bool

    @property
    def json(self) -> bool:
        """Whether a JSON object came back (a redirect counts as one)."""
        return self.answer is not None and self.problem is None


def exchange(
    session: requests.Session,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float | tuple[float, float],
    host: str,
    redact: Callable[[str], str],
    routes: dict[str, Route] | None = None,
) -> Exchange:
    """POST ``body`` to ``url`` once; only a TLS failure raises (nothing else can be decided here).

    ``routes``: the caller's ``Route`` of each URL, made here on first use and kept there; without
    it the request is prepared in full, as ``session.post`` does.
    """
    try:
        route = None if routes is None else routes.get(url)
        if route is None:
            route = Route(session, url, headers)
            if routes is not None:
                routes[url] = route
        response = session.send(route.prepare(body), timeout=timeout, allow_redirects=False, **route.settings)
    except requests.exceptions.ConnectTimeout:
        return Exchange(None, "connection timed out", sent=False)
    except requests.exceptions.SSLError as error:
        raise TransportError(f"TLS failed with {host}: {redact(str(error))}") from None
    except requests.exceptions.ConnectionError as error:
        text = redact(str(error))
        refused = "NewConnectionError" in text or "Failed to resolve" in text or "NameResolution" in text
        return Exchange(None, connection_cause(error, text), sent=not refused)
    except requests.exceptions.Timeout:
        return Exchange(None, "no answer before the read timeout", sent=True)
    except requests.exceptions.RequestException as error:
        return Exchange(None, f"{type(error).__name__} ({_short(redact(str(error)))})", sent=True)
    except (UnicodeError, ValueError) as error:
        # requests decodes a redirect's Location even when it does not follow it: a portal can
        # send bytes it cannot decode, after the request was sent
        return Exchange(None, f"an answer that cannot be read ({type(error).__name__})", sent=True)
    status = response.status_code
    if status in REDIRECTS:
        return Exchange(Answer(status, {"location": response.headers.get("Location", "")}), None, True)
    try:
        parsed = decode_answer(response.content)
    except (ValueError, RecursionError):
        # not JSON, JSON nested past Python's stack, NaN or Infinity (which JSON does not have),
        # or a number of more digits than Python converts: none of it is a Bitrix24 answer
        parsed = None
    if isinstance(parsed, dict) and _SURROGATE_ESCAPE.search(response.content):
        parsed = _whole_unicode(parsed)
    if not isinstance(parsed, dict):
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return Exchange(Answer(status, {}), f"HTTP {status} with a non-JSON body ({kind})", sent=True)
    return Exchange(Answer(status, parsed), None, sent=True)


class Route:
    """What every POST to one URL through one session shares, worked out once.

    ``session.post`` prepares each request again: it reads the proxies and the CA bundle from the
    environment (the whole environment, twice, a sixth of a batch request's CPU on a local portal),
    looks for a ``.netrc`` and merges the session's headers and hooks. None of it changes during a
    run. The session's cookies may (a portal or a proxy in front of it can set some), so while the
    session holds any, each request is prepared in full as ``session.post`` would.
    """

    def __init__(self, session: requests.Session, url: str, headers: Mapping[str, str]) -> None:
        self._session = session
        self._request = requests.Request("POST", url, headers=dict(headers))
        self._template = session.prepare_request(self._request)
        self.settings: dict[str, Any] = dict(session.merge_environment_settings(url, {}, None, None, None))
        """Proxies, CA bundle, client certificate (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``)."""

    def prepare(self, body: bytes) -> requests.PreparedRequest:
        """The request carrying ``body``, as ``session.prepare_request`` makes it."""
        if self._session.cookies:
            request = self._request
            return self._session.prepare_request(
                requests.Request(request.method, request.url, headers=request.headers, data=body)
            )
        prepared = self._template.copy()
        prepared.prepare_body(body, None)
        return prepared


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _whole_unicode(value: Any) -> Any:
    """``value`` with every lone surrogate (JSON ``"\\ud800"``, which is no character) as U+FFFD.

    json pairs the escapes of a real character; what is left alone cannot be encoded as UTF-8, so it
    would break the report, the terminal and every file downstream.
    """
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_whole_unicode(k): _whole_unicode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_unicode(v) for v in value]
    return value


def decode_answer(content: bytes) -> Any:
    """The JSON of an answer's body, as ``json.loads`` reads it; raises ``ValueError`` (or
    ``RecursionError``) for a body that is not JSON, or holds NaN, Infinity or a number of more digits
    than Python converts.

    pydantic's parser reads a batch answer in half the time of ``json``; where it gives a value, it
    is the one ``json`` gives. What it refuses (a byte-order mark, UTF-16, a lone surrogate,
    nesting past 200) goes to ``json``, which decides as it always did.
    """
    try:
        return from_json(content, allow_inf_nan=False)
    except ValueError:
        return json.loads(content, parse_constant=_not_json)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"()\]]+)")


def connection_cause(error: BaseException, text: str) -> str:
    """One clean phrase for a failed connection, not urllib3's nested text (``connection refused``)."""
    if "Failed to resolve" in text or "NameResolution" in text or "getaddrinfo" in text:
        return "the host name does not resolve"
    found = _ERRNO.search(text)
    if found:
        return found.group(1).strip().rstrip(".").lower()
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection was closed without an answer"
    if "Connection reset" in text:
        return "the connection was reset"
    return f"connection failed ({type(error).__name__})"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
