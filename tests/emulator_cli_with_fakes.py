"""Run ``b24sync emulator`` with the fake methods and store (for the CLI tests, in a subprocess)."""

from __future__ import annotations

import sys

import b24sync.emulator.app as app
from b24sync.cli import main
from tests.emulator_fakes import METHODS, FakeStore

app.default_methods = lambda: dict(METHODS)
app.default_store_class = lambda: FakeStore

if __name__ == "__main__":
    sys.exit(main(["emulator", *sys.argv[1:]]))
