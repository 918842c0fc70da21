"""Converters for single values of the configuration: durations, time zones, chats.

A converter takes what TOML gave and returns the typed value, or raises ValueError (the reader
then writes "expected …, got …"), Refused (the same, with a reason added) or Duplicate.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from alerts.identity import ChatRef

_DURATION = re.compile(r"^(?:\d+[wdhms])+$")
_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class Refused(ValueError):
    """Raised by a converter to add a reason after "expected …, got …"."""


class Duplicate(ValueError):
    """Raised by a converter for a value that must be unique and was given before."""

    def __init__(self, noun: str, first: str) -> None:
        super().__init__(noun, first)
        self.noun = noun
        self.first = first


def describe(value: Any) -> str:
    """A value as the file wrote it, short; never used for secrets, and hides a password in a URL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _has_url_password(value):
        return "a URL with a password (not shown)"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "…", ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (datetime, date, time)):
        return f"the date/time {value.isoformat()}"
    return type(value).__name__


def _has_url_password(text: str) -> bool:
    if "://" not in text:
        return False
    try:
        return urlsplit(text).password is not None
    except ValueError:  # unparsable: keep it hidden if it might hold credentials
        return "@" in text


def parse_duration(text: str) -> timedelta:
    """`30m`, `1h`, `24h`, `3d`, `1w`, `1h30m`: a positive duration."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION.match(compact):
        raise ValueError(text)
    result = timedelta()
    for number, unit in _DURATION_PART.findall(compact):
        result += timedelta(**{_UNITS[unit]: int(number)})
    if result <= timedelta(0):
        raise Refused("it must be longer than zero")
    return result


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_name(raw: Any) -> str:
    """An IANA time zone name as the tz database spells it; a near miss is suggested."""
    if not isinstance(raw, str):
        raise ValueError(raw)
    name = raw.strip()
    zones = _zones()
    if name in zones:
        return name
    if not zones:  # no tz database on this machine: let zoneinfo decide, and say what is missing
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            raise Refused("no time zone database found; install the tzdata package") from None
    same = [z for z in zones if z.lower() == name.lower()]
    near = same or difflib.get_close_matches(name, sorted(zones), n=1)
    if near:
        raise Refused(f'did you mean "{near[0]}"?')
    raise ValueError(raw)


TIMEZONE_EXPECT = 'an IANA time zone like "Asia/Bangkok" or "UTC"'


def chat_ref(raw: Any) -> ChatRef:
    if not isinstance(raw, str):
        raise ValueError(raw)
    return ChatRef.parse(raw)


CHAT_EXPECT = 'a chat like "console:#network", "matrix:!abc:example.org" or "telegram:-100123"'
