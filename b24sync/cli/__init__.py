"""The ``b24sync`` command line: thin click commands that parse options, call ``b24sync.run``,
render what it returns and exit with a code from ``exits``."""

from b24sync.cli import fields as _fields  # noqa: F401  (registers `b24sync fields`)
from b24sync.cli.commands import NEEDS_STATE, NO_PORTAL, main

__all__ = ["NEEDS_STATE", "NO_PORTAL", "main"]
