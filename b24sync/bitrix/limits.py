"""Sizes, budgets and rates of the platform (protocol §2.2, §3.3, §7, §8)."""

from __future__ import annotations

from typing import Final

MAX_BATCH: Final = 50
"""Commands in one ``batch`` request; the 51st and later fail one by one (protocol §3.3)."""
PAGE_SIZE: Final = 50
"""Rows in one page of a list method, fixed by the portal (protocol §8.1)."""
MAX_INPUT_VARS: Final = 1000
"""Values PHP's ``parse_str`` reads from one command before it drops the rest (protocol §2.2, U5)."""
MAX_NESTING: Final = 64
"""Bracket levels PHP's ``parse_str`` decodes (its default ``max_input_nesting_level``)."""
REQUEST_DEADLINE: Final = 60.0
"""Seconds one HTTP request may take on a cloud portal (protocol §7.3)."""

OPERATING_LIMIT: Final = 480.0
"""Seconds of execution time per method per ten minutes before the method is blocked (protocol §7.2)."""
OPERATING_WINDOW: Final = 600.0
"""The sliding window the operating time is summed over (protocol §7.2)."""
OPERATING_MARGIN: Final = 5.0
"""A method is paused when its operating time reaches the limit minus this (protocol §7.4)."""

# protocol §7.1: the leaky bucket of each plan, as (burst, drain per second).
STANDARD_RATE: Final = (50.0, 2.0)
ENTERPRISE_RATE: Final = (250.0, 5.0)
PLAN_RATES: Final = {
    "free": STANDARD_RATE,
    "basic": STANDARD_RATE,
    "standard": STANDARD_RATE,
    "professional": STANDARD_RATE,
    "enterprise": ENTERPRISE_RATE,
}
"""The leaky bucket of each Bitrix24 plan (tariff): Enterprise has its own, all others share one."""
