"""Keeping secrets out of every text b24sync shows: ``Redactor`` and the one log filter.

The webhook code and every ``secret()`` value are replaced by ``***`` in their plain and
percent-encoded forms. urllib3 logs request lines with the URL (and so the code) at debug level:
one filter on its loggers redacts the secrets of every live client, however many there are.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote

REDACTED = "***"
_LOGGERS = ("urllib3.connectionpool", "urllib3", "requests")


class Redactor:
    """Replaces secrets in any text with ``***``."""

    def __init__(self, *secrets: str) -> None:
        forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text

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
