"""A test double of the emulator's core: calls method handlers directly, as JSON or as PHP strings.

The core hands a handler either JSON-typed parameters or PHP ``parse_str`` output; ``php_form``
turns JSON-typed parameters into the latter the way ``http_build_query`` then ``parse_str`` would
(protocol §2.3: every leaf a string, lists as maps keyed "0", "1", ..., true/false as 1/0,
null and empty arrays dropped).
"""

from __future__ import annotations

from typing import Any

import pytest

from b24sync.emulator.methods import registry
from b24sync.emulator.methods.base import Context, MethodError, Reply
from b24sync.emulator.store import Store

# 2024-08-15T10:38:21+03:00
T0 = 1723707501.0
FORMS = ("json", "php")


def php_form(value: Any) -> Any:
    """JSON-typed parameters as PHP would hand them over after parse_str."""
    if isinstance(value, dict):
        return {str(k): php_form(v) for k, v in value.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return {str(i): php_form(v) for i, v in enumerate(value) if v is not None and v != [] and v != {}}
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class Portal:
    """A store, a clock and a caller: ``call`` runs one method like the core would."""

    def __init__(self, form: str = "json", tz_offset: str = "+03:00", user_id: int = 1) -> None:
        self.store = Store(tz_offset)
        self.form = form
        self.user_id = user_id
        self.now = T0
        self.handlers = registry()

    def reply(self, method: str, params: dict[str, Any] | None = None) -> Reply:
        """The handler's Reply (raises MethodError)."""
        args = params or {}
        if self.form == "php":
            args = php_form(args)
        ctx = Context(store=self.store, user_id=self.user_id, now=lambda: self.now)
        return self.handlers[method.lower()](ctx, args)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Just the ``result`` value."""
        return self.reply(method, params).result

    def error(self, method: str, params: dict[str, Any] | None = None) -> MethodError:
        """The MethodError the call raises."""
        with pytest.raises(MethodError) as caught:
            self.reply(method, params)
        return caught.value
