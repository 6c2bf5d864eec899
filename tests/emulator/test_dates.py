"""Portal dates: ISO 8601 out with the portal offset, the date-only form, and the input forms read."""

from __future__ import annotations

import pytest

from b24sync.emulator import dates


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        ("+03:00", "2001-11-11T03:00:00+03:00"),
        ("+00:00", "2001-11-11T00:00:00+00:00"),
        ("-05:00", "2001-11-10T19:00:00-05:00"),
    ],
)
def test_date_only_values_show_midnight_utc_in_the_portal_zone(offset: str, expected: str) -> None:
    assert dates.format_date("2001-11-11", dates.parse_offset(offset)) == expected


def test_date_input_forms() -> None:
    zone = dates.parse_offset("+03:00")
    assert dates.parse_date("2001-11-11T02:00:00+02:00", dates.parse_offset("+02:00")) == "2001-11-11"
    assert dates.parse_date("11.11.2001", zone) == "2001-11-11"
    assert dates.parse_date("2001-13-11", zone) is None
    moment = dates.parse_datetime("2024-08-15T10:38:21+03:00", zone)
    assert moment is not None and dates.format_datetime(moment, zone) == "2024-08-15T10:38:21+03:00"
    utc = dates.parse_datetime("2024-08-15T07:38:21Z", zone)
    assert utc == moment == dates.parse_datetime("15.08.2024 10:38:21", zone)
    assert dates.parse_datetime("yesterday", zone) is None


def test_offsets_are_validated() -> None:
    assert dates.format_offset(dates.parse_offset("-0530")) == "-05:30"
    with pytest.raises(ValueError, match="range"):
        dates.parse_offset("+15:00")
