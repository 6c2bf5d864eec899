from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.php import PhpParseStr, require_php


@pytest.fixture(scope="session")
def php_parse_str() -> Iterator[PhpParseStr]:
    require_php()
    php = PhpParseStr()
    yield php
    php.close()
