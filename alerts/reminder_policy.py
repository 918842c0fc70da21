"""When reminders fall: stage times by priority, and quiet hours in each person's own time zone.

    policy = ReminderPolicy.default()
    policy.stages[Priority.URGENT].repeat           # timedelta(minutes=30)
    policy.release(moment, Priority.ROUTINE, "Australia/Canberra")   # moment, or the end of the night

Quiet hours hold back reminders of the priorities in `quiet_for` (routine by default) until the
quiet hours end in the zone of the person they go to; urgent reminders are never held. The end is
found on the local wall clock and converted back, so a daylight-saving change during the night moves
it by the hour it should. Pure: no clock, no I/O.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.priority import Priority
from alerts.zones import UTC, canonical_zone


@dataclass(frozen=True, slots=True)
class StageTimes:
    """The reminder stages of one priority, relative to a due time."""

    before: timedelta | None        # remind this long before the due time (None: no early reminder)
    repeat: timedelta | None        # after the due time, remind again this often ...
    max_repeats: int                # ... at most this many times
    backup_after: timedelta | None  # overdue this long: the recipient's backup is told
    coordinators_after: timedelta | None  # overdue this long: the coordinators are told

    def __post_init__(self) -> None:
        if self.max_repeats < 0:
            raise ValueError("max_repeats cannot be negative")
        for name in ("before", "repeat", "backup_after", "coordinators_after"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{name} must be longer than zero (or None)")


DEFAULT_STAGES: Mapping[Priority, StageTimes] = {
    Priority.URGENT: StageTimes(timedelta(minutes=15), timedelta(minutes=30), 3, timedelta(minutes=30),
                                timedelta(hours=1)),
    Priority.PRIORITY: StageTimes(timedelta(hours=1), timedelta(hours=4), 3, timedelta(hours=4), timedelta(hours=12)),
    Priority.ROUTINE: StageTimes(timedelta(hours=4), timedelta(days=1), 3, timedelta(days=1), timedelta(days=2)),
}


@functools.lru_cache(maxsize=512)
def zone_of(name: str) -> tzinfo:
    """The named IANA zone (alerts.zones: any case, the odd entries of the tz database not); UTC for a
    name it does not take (every way in checks names, one stored before it did might not, and a reminder
    at the wrong hour beats no reminder)."""
    zone = canonical_zone(name)
    if zone is None or zone == UTC:
        return timezone.utc
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def first_instant_at_or_after(day: date, wall: time, zone: tzinfo) -> datetime:
    """The first UTC instant at which the clocks of `zone` read `wall` on `day`, or later.

    Where a daylight-saving change repeats the hour, that is its first occurrence; where it skips
    the hour (`wall` never shows), that is the moment of the change, when the clocks jump past it.
    """
    local = datetime.combine(day, wall)
    first = local.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    second = local.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    if first <= second:  # an ordinary time (equal), or a repeated one (fold 0 comes first)
        return first
    # Skipped: fold=1 reads the wall time with the offset after the change, which lands before
    # the change; fold=0, with the offset before it, lands after. The change lies in between:
    # find the first second whose wall clock has passed `wall`.
    low, high = second, first
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A nightly window on the local wall clock, such as 22:00 to 07:00 (it may span midnight)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours need a start and an end that differ")

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """`22:00-07:00`."""
        start, dash, end = text.strip().partition("-")
        if not dash:
            raise ValueError(text)
        return cls(time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))

    def _contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def holds(self, moment: datetime, zone: str) -> bool:
        return self._contains(moment.astimezone(zone_of(zone)).time())

    def release(self, moment: datetime, zone: str) -> datetime:
        """`moment`, or when the quiet hours it falls in end in `zone`."""
        tz = zone_of(zone)
        local = moment.astimezone(tz)
        if not self._contains(local.time()):
            return moment
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)  # the night goes on past midnight: it ends tomorrow morning
        return max(moment, first_instant_at_or_after(day, self.end, tz))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class ReminderPolicy:
    """Stage times by priority, and the quiet hours that hold back the priorities in `quiet_for`."""

    stages: Mapping[Priority, StageTimes] = field(default_factory=lambda: dict(DEFAULT_STAGES))
    quiet: QuietHours | None = None
    quiet_for: frozenset[Priority] = frozenset({Priority.ROUTINE})

    def __post_init__(self) -> None:
        if Priority.URGENT in self.quiet_for:
            raise ValueError("urgent reminders are never held back by quiet hours")
        missing = [p.value for p in Priority if p not in self.stages]
        if missing:
            raise ValueError(f"no reminder stages for {', '.join(missing)}")

    @classmethod
    def default(cls) -> ReminderPolicy:
        return cls(dict(DEFAULT_STAGES), QuietHours(time(22, 0), time(7, 0)))

    def release(self, moment: datetime, priority: Priority, zone: str) -> datetime:
        """When a reminder planned for `moment` may go to a person in `zone`."""
        if self.quiet is None or priority not in self.quiet_for:
            return moment
        return self.quiet.release(moment, zone)
