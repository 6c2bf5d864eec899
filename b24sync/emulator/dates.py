"""Portal dates: reading what clients send and writing ISO 8601 with the portal's offset."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta, timezone

# years a portal stores; outside them a zone shift could leave datetime's range
MIN_YEAR, MAX_YEAR = 1000, 9000
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_LOCALE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})(?:\s+(\d{2}):(\d{2})(?::(\d{2}))?)?$")


def parse_offset(text: str) -> timezone:
    """A fixed time zone from ``+03:00``/``-0500``; ValueError for anything else."""
    match = _OFFSET.match(text.strip())
    if not match:
        raise ValueError(f"time zone offset must look like +03:00, got {text!r}")
    sign = -1 if match.group(1) == "-" else 1
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    if minutes > 14 * 60:
        raise ValueError(f"time zone offset out of range: {text!r}")
    return timezone(sign * timedelta(minutes=minutes))


def format_offset(zone: timezone) -> str:
    """``+03:00`` for a fixed zone."""
    delta = zone.utcoffset(None)
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_datetime(timestamp: float, zone: timezone) -> str:
    """A Unix time as ``2024-08-15T10:38:21+02:00`` in the portal's zone (protocol §10.2)."""
    return _format_second(int(timestamp), zone)


@functools.lru_cache(maxsize=64)
def _format_second(second: int, zone: timezone) -> str:
    # every command writes two to four stamps, almost always of the same second
    moment = datetime.fromtimestamp(second, zone)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + format_offset(zone)


def format_date(day: str, zone: timezone) -> str:
    """A date-only value as the portal writes it: midnight UTC shown in the portal's zone."""
    # protocol §10.2 / U14: "BIRTHDATE": "2001-11-11T02:00:00+02:00", the clock equals the offset
    moment = datetime.fromisoformat(day).replace(tzinfo=timezone.utc).astimezone(zone)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + format_offset(zone)


def parse_datetime(text: str, zone: timezone) -> float | None:
    """A Unix time from ISO 8601 (offset optional: then the portal's zone) or ``dd.mm.yyyy hh:mm:ss``."""
    # protocol §10.3: ISO with offset is the safe form; the locale form is also accepted
    text = text.strip()
    match = _ISO.match(text)
    if match:
        year, month, day, hour, minute, second, offset = match.groups()
    else:
        match = _LOCALE.match(text)
        if not match:
            return None
        day, month, year, hour, minute, second = match.groups()
        offset = None
    if not MIN_YEAR <= int(year) <= MAX_YEAR:
        return None
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    if offset is None:
        tzinfo = zone
    elif offset == "Z":
        tzinfo = timezone.utc
    else:
        try:
            tzinfo = parse_offset(offset)
        except ValueError:
            return None
    return moment.replace(tzinfo=tzinfo).timestamp()


def parse_date(text: str, zone: timezone) -> str | None:
    """``YYYY-MM-DD`` from a date, an ISO datetime (its date in the portal zone) or ``dd.mm.yyyy``."""
    text = text.strip()
    locale = _LOCALE.match(text)
    if locale:
        text = f"{locale.group(3)}-{locale.group(2)}-{locale.group(1)}"
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return day.isoformat() if MIN_YEAR <= day.year <= MAX_YEAR else None
    # protocol §10.2: date fields come back as a datetime; read the day where the portal sees it
    timestamp = parse_datetime(text, zone)
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, zone).date().isoformat()
