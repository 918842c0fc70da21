"""/stats: acknowledgement and feedback times per country and desk, median and 90th percentile.

Times run from when a recipient's copy was sent (the item's creation when the send is not
recorded). "Late" counts what came after the recipient's due time (alerts.reminders.deadline), or
has not come and is past it. Medians interpolate between the middle two; the 90th percentile is
the nearest rank (the smallest time that at least 90% of answers beat or equal), which never
invents a time nobody took.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

from alerts.directory import Directory
from alerts.reminder_render import duration
from alerts.reminders import chased, deadline

DEFAULT_PERIOD = "30d"


@dataclass(frozen=True, slots=True)
class ExchangeTimes:
    """One delivery of an item, with the times statistics need (all kept in clear)."""

    reference: str
    contact: str
    created_at: datetime
    open: bool
    sent_at: datetime | None = None
    acknowledged_at: datetime | None = None
    answered_at: datetime | None = None
    ack_due: datetime | None = None
    feedback_due: datetime | None = None


def _months_back(moment: datetime, months: int) -> datetime:
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def period_bounds(period: str | None, now: datetime) -> tuple[datetime, datetime, str]:
    """[since, until) in UTC and a label, for a period as handlers.values.parse_period writes it."""
    period = period or DEFAULT_PERIOD
    span = re.fullmatch(r"(\d+)([dwm])", period)
    if span:
        count, unit = int(span[1]), span[2]
        since = _months_back(now, count) if unit == "m" else now - count * timedelta(days=7 if unit == "w" else 1)
        noun = {"d": "day", "w": "week", "m": "month"}[unit]
        return since, now, f"the last {count} {noun}{'s' if count != 1 else ''}"
    month = re.fullmatch(r"(\d{4})-(\d{2})", period)
    if month:
        since = datetime(int(month[1]), int(month[2]), 1, tzinfo=timezone.utc)
        return since, _months_back(since, -1), f"{since:%B %Y}"
    year = int(period)
    return datetime(year, 1, 1, tzinfo=timezone.utc), datetime(year + 1, 1, 1, tzinfo=timezone.utc), str(year)


def median(values: Sequence[timedelta]) -> timedelta | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[timedelta], share: float) -> timedelta | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


@dataclass(frozen=True, slots=True)
class Measure:
    times: tuple[timedelta, ...]
    late: int

    def describe(self, what: str) -> str:
        if not self.times:
            return f"{what} none yet" + (f" ({self.late} late)" if self.late else "")
        late = f"; {self.late} late" if self.late else ""
        return (f"{what} median {duration(median(self.times))}, p90 {duration(percentile(self.times, 0.9))} "  # type: ignore[arg-type]
                f"({len(self.times)}{late})")


@dataclass(frozen=True, slots=True)
class GroupStats:
    label: str
    deliveries: int
    ack: Measure
    feedback: Measure
    overdue_now: int
    indent: bool = False

    def line(self) -> str:
        parts = [self.ack.describe("ack"), self.feedback.describe("feedback")]
        if self.overdue_now:
            parts.append(f"overdue now {self.overdue_now}")
        return ("  " if self.indent else "") + f"{self.label}: " + " · ".join(parts)


def _measure(rows: Sequence[ExchangeTimes], now: datetime) -> tuple[Measure, Measure, int]:
    acks, answers, late_acks, late_answers, overdue = [], [], 0, 0, 0
    for row in rows:
        start = row.sent_at or row.created_at
        ack_by = deadline(row.ack_due, row.created_at, start) if row.ack_due else None
        answer_by = deadline(row.feedback_due, row.created_at, start) if row.feedback_due else None
        acked = row.acknowledged_at or row.answered_at  # answering acknowledges too
        if acked is not None:
            acks.append(max(acked - start, timedelta(0)))
        if row.answered_at is not None:
            answers.append(max(row.answered_at - start, timedelta(0)))
        if ack_by is not None and (acked or now) > ack_by:
            late_acks += 1
        if answer_by is not None and (row.answered_at or now) > answer_by:
            late_answers += 1
        if row.open and row.answered_at is None and (
                (answer_by is not None and answer_by <= now) or (acked is None and ack_by is not None and ack_by <= now)):
            overdue += 1
    return Measure(tuple(acks), late_acks), Measure(tuple(answers), late_answers), overdue


def group_stats(rows: Iterable[ExchangeTimes], directory: Directory, now: datetime) -> list[GroupStats]:
    """One line per organisation, its desks under it, and the whole network last (coordinators'
    oversight copies left out: alerts.reminders.chased)."""
    rows = [row for row in rows if chased(directory, row.contact)]
    by_org: dict[str, list[ExchangeTimes]] = {}
    by_desk: dict[tuple[str, str], list[ExchangeTimes]] = {}
    for row in rows:
        contact = directory.contacts.get(row.contact)
        org = contact.organisation if contact else "?"
        by_org.setdefault(org, []).append(row)
        if contact is not None and contact.desk:
            by_desk.setdefault((org, contact.desk), []).append(row)
    groups = []
    for org in sorted(by_org):
        groups.append(GroupStats(org, len(by_org[org]), *_measure(by_org[org], now)))
        for (_, desk), desk_rows in sorted((k, v) for k, v in by_desk.items() if k[0] == org):
            groups.append(GroupStats(f"{org}/{desk}", len(desk_rows), *_measure(desk_rows, now), indent=True))
    if rows:
        groups.append(GroupStats("All", len(rows), *_measure(rows, now)))
    return groups


def render_stats(groups: Sequence[GroupStats], label: str, since: datetime, until: datetime) -> str:
    last = until - timedelta(seconds=1) if until.time() == datetime.min.time() else until  # [since, until)
    span = f"{since:%d %b %Y} – {last:%d %b %Y}"
    if not groups:
        return f"No deliveries in {label} ({span}, UTC)."
    total = groups[-1].deliveries
    head = f"Exchange statistics, {label} ({span}, UTC): {total} deliveries. Times from receipt; p90 = 90th percentile."
    return "\n".join([head, *(g.line() for g in groups)])
