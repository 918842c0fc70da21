"""The charts that go with the coordinators' daily digest and the monthly bulletin in chat, as PNG
(chat platforms show PNG, not SVG): the same numbers and drawing as the portal's statistics page.

    with uow_factory(read_only=True) as uow:
        image = digest_chart_png(uow, directory, now)       # PNG bytes
        image = bulletin_chart_png(uow, "2026-10", now)

Counts only, no content: the digest's room is the coordinators', the bulletin's the members'.
`PngCharts` is handlers.ports.ChatCharts on these: the reminder rounds' messages carry its images.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from alerts.directory import Directory
from alerts.messages import Attachment
from bot.portal import charts
from bot.portal.views import overdue_by_day, volume_by_topic
from handlers.ports import DirectorySource, UnitOfWork


def digest_chart_png(uow: UnitOfWork, directory: Directory, now: datetime, days: int = 30) -> bytes:
    """Copies overdue at the end of each UTC day of the last `days` days, up to `now`."""
    labels, counts = overdue_by_day(uow, directory, now - timedelta(days=days), now, now)
    figure = charts.line_figure(labels, counts, "Copies overdue at the end of each day (UTC)", "copies")
    return charts.png(figure)


def bulletin_chart_png(uow: UnitOfWork, month: str, now: datetime) -> bytes:
    """Items per month by topic over the twelve months up to and including `month` (YYYY-MM)."""
    year, number = (int(part) for part in month.split("-"))
    until = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=timezone.utc)
    since = datetime(year - 1 + number // 12, number % 12 + 1, 1, tzinfo=timezone.utc)  # eleven months before
    summaries = uow.reminders.summaries(since, min(until, now + timedelta(seconds=1)))
    months, volume = volume_by_topic(summaries)
    return charts.png(charts.stacked_bars_figure(months, volume, f"Items per month, by topic, to {month}"))


PNG = "image/png"


class PngCharts:
    """handlers.ports.ChatCharts: each chart drawn in a read-only transaction of its own (no lock held
    for the drawing), named for what it shows and when."""

    def __init__(self, uow_factory: Callable[..., UnitOfWork], directory: DirectorySource) -> None:
        self._uow_factory = uow_factory  # called with read_only=True (storage.uow.SqlUnitOfWorkFactory)
        self._directory = directory

    def digest(self, now: datetime, day: date) -> list[Attachment]:
        with self._uow_factory(read_only=True) as uow:
            data = digest_chart_png(uow, self._directory.current(), now)
        return [Attachment(f"overdue-{day.isoformat()}.png", PNG, len(data), data)]

    def bulletin(self, month: str, now: datetime) -> list[Attachment]:
        with self._uow_factory(read_only=True) as uow:
            data = bulletin_chart_png(uow, month, now)
        return [Attachment(f"items-by-topic-{month}.png", PNG, len(data), data)]
