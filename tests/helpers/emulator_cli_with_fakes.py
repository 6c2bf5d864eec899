"""Run ``b24sync emulator`` with the fake methods and store (for the CLI tests, in a subprocess)."""

from __future__ import annotations

import sys

import b24sync.emulator.app as app
from b24sync.cli import main
from tests.helpers.emulator_fakes import METHODS, FakeStore

setattr(app, "default_methods", lambda: dict(METHODS))  # noqa: B010  (replacing the real handlers)
setattr(app, "default_store_class", lambda: FakeStore)  # noqa: B010

if __name__ == "__main__":
    sys.exit(main(["emulator", *sys.argv[1:]]))
