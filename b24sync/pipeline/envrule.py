"""What ``env()`` may read: the rule that keeps credentials out of pipeline values.

Pipeline files arrive through pull requests and CI plans them with the webhook in the environment,
so a template must not be able to read a credential into a value that is printed, planned or sent:
``env()`` refuses the webhook variable, every name the pipeline passes to ``secret()``, and names
that usually hold credentials (``*TOKEN*``, ``*SECRET*``, ...) unless the user allows that name with
``--allow-env NAME``; it also refuses any value that holds a webhook URL or the value of a secret,
whatever its variable is called. The first two and the value rules cannot be lifted.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from b24sync.client.webhook import WEBHOOK_VARIABLE, webhook_code

DENIED_PARTS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "PRIVATE", "WEBHOOK")
"""A variable whose name holds one of these (in any case) may hold a credential."""

_SECRET_CALL = re.compile(r"""secret\s*\(\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\1\s*\)""")


def secret_names_in(text: str) -> frozenset[str]:
    """Every name written as ``secret('NAME')`` in a file's text (comments included, on purpose)."""
    return frozenset(match.group(2) for match in _SECRET_CALL.finditer(text))


class EnvRefused(Exception):
    """``env()`` may not read this variable; the message says why and what to do."""


@dataclass
class EnvRule:
    """Decides each ``env()`` read of one pipeline load."""

    environ: Mapping[str, str]
    allowed: Collection[str] = ()
    secret_names: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)

    def protected_values(self) -> Iterable[str]:
        """The values no ``env()`` result may hold: the webhook code and every secret's value."""
        code = webhook_code(self.environ.get(WEBHOOK_VARIABLE))
        if code:
            yield code
        for name in self.secret_names:
            value = self.environ.get(name)
            if value:
                yield value

    def check_name(self, name: str) -> None:
        """Refuse a name ``env()`` may not read."""
        if name == WEBHOOK_VARIABLE:
            raise EnvRefused(
                f"env({name!r}) is refused: the webhook URL holds its code, and a pipeline cannot read it"
            )
        if name in self.secret_names:
            raise EnvRefused(
                f"env({name!r}) is refused: the pipeline uses {name} as secret({name!r}), "
                "whose value is sent but never shown"
            )
        upper = name.upper()
        denied = next((part for part in DENIED_PARTS if part in upper), None)
        if denied is not None and name not in self.allowed:
            raise EnvRefused(
                f"env({name!r}) is refused: a name with {denied} usually holds a credential; send it "
                f"with secret({name!r}), or pass --allow-env {name} if its value may be shown"
            )

    def check_value(self, name: str, value: str) -> None:
        """Refuse a value that holds a credential whatever its variable is called."""
        if webhook_code(value) is not None:
            raise EnvRefused(f"env({name!r}) is refused: its value holds a webhook URL")
        if any(secret in value for secret in self.protected_values()):
            raise EnvRefused(f"env({name!r}) is refused: its value holds the value of a secret")

    def note_secret(self, name: str) -> None:
        """A ``secret()`` name met while rendering; a name ``env()`` already read is a conflict."""
        self.secret_names.add(name)

    def conflicts(self) -> list[str]:
        """Names read by ``env()`` and later found to be secrets (a computed ``secret()`` name)."""
        return sorted(self.read & self.secret_names)
