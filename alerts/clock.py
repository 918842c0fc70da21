"""Time as a port: the domain never reads a clock, it is handed one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class ManualClock:
    """A clock that moves only when told to, for tests and replays."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


def utc(moment: datetime) -> datetime:
    """The same moment in UTC; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the domain only handles timezone-aware times")
    return moment.astimezone(timezone.utc)
