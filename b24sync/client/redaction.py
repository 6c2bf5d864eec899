"""Keeping secrets out of every text b24sync shows: ``Redactor`` and the one log filter.

The webhook code and every ``secret()`` value are replaced by ``***`` in every form in which they can
reach a text: as given, percent-encoded (upper- and lower-case hex, ``+`` for spaces, as a path
keeps ``/``), and JSON-escaped (a portal echoing a request body, a report file). Base64 and other
transformations are not searched for: no b24sync code transforms a secret, and templates never see
one (``secret()`` is a marker, ``env()`` refuses the names of secrets), so no such form can arise
from a pipeline; a portal echoing a transformed secret is not known. urllib3 logs request lines with
the URL (and so the code) at debug level: one filter on its loggers redacts the secrets of every live
client, however many there are.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "***"
_LOGGERS = ("urllib3.connectionpool", "urllib3", "requests")
_HEX = re.compile(r"%[0-9A-F]{2}")


def forms(secret: str) -> set[str]:
    """Every form of ``secret`` that can appear in a text b24sync shows."""
    found = {secret}
    for encode in (
        lambda text: quote(text, safe=""),
        lambda text: quote(text, safe="/"),
        quote_plus,
    ):
        try:
            encoded = encode(secret)
        except UnicodeEncodeError:
            continue  # a lone surrogate cannot be percent-encoded, so it is never sent that way
        found.add(encoded)
        found.add(_HEX.sub(lambda match: match.group(0).lower(), encoded))
    for ascii_only in (False, True):
        found.add(json.dumps(secret, ensure_ascii=ascii_only)[1:-1])
    return {form for form in found if form}


class Redactor:
    """Replaces secrets in any text with ``***``."""

    def __init__(self, *secrets: str | None) -> None:
        self._secrets = tuple(dict.fromkeys(s for s in secrets if isinstance(s, str) and s))
        found = {form for secret in self._secrets for form in forms(secret)}
        self._forms = sorted(found, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in self._forms)) if self._forms else None

    def adding(self, secrets: Iterable[str | None]) -> Redactor:
        """A redactor for these secrets too."""
        return Redactor(*self._secrets, *secrets)

    def merged(self, other: Redactor) -> Redactor:
        """A redactor for the secrets of both."""
        return Redactor(*self._secrets, *other._secrets)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not isinstance(text, str):
            return text
        return self._pattern.sub(REDACTED, text)

    def finds(self, text: str) -> bool:
        """Whether ``text`` holds a secret in any form."""
        return self._pattern is not None and self._pattern.search(text) is not None

    def data(self, value: Any) -> Any:
        """A JSON-like value with every string (keys too) redacted; the value itself when clean."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value

    @property
    def longest(self) -> int:
        """The length of the longest form of a secret (0 without secrets)."""
        return len(self._forms[0]) if self._forms else 0

    def __bool__(self) -> bool:
        return bool(self._forms)


class _LogRedaction(logging.Filter):
    """Redacts the secrets of every registered redactor from log records."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._redactors: dict[int, Redactor] = {}
        self._installed = False

    def register(self, redact: Redactor) -> None:
        with self._lock:
            self._redactors[id(redact)] = redact
            if not self._installed:
                for name in _LOGGERS:
                    logging.getLogger(name).addFilter(self)
                self._installed = True

    def unregister(self, redact: Redactor) -> None:
        with self._lock:
            self._redactors.pop(id(redact), None)

    def __len__(self) -> int:
        """The redactors registered now."""
        return len(self._redactors)

    def filter(self, record: logging.LogRecord) -> bool:
        redactors = list(self._redactors.values())
        if not redactors:
            return True
        message = record.getMessage()
        clean = message
        for redact in redactors:
            clean = redact(clean)
        if clean != message:
            record.msg, record.args = clean, None
        return True


LOG_REDACTION = _LogRedaction()
"""The one filter on urllib3's and requests' loggers; clients register their redactor with it."""
