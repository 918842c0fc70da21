"""alerts.stats: periods, medians and 90th percentiles, grouping by country and desk."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.stats import ExchangeTimes, group_stats, median, percentile, period_bounds, render_stats
from tests.sample_network import small_network

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


@pytest.mark.parametrize("period, since, until, label", [
    (None, NOW - timedelta(days=30), NOW, "the last 30 days"),
    ("7d", NOW - timedelta(days=7), NOW, "the last 7 days"),
    ("1w", NOW - timedelta(days=7), NOW, "the last 1 week"),
    ("3m", datetime(2026, 8, 23, 9, 0, tzinfo=timezone.utc), NOW, "the last 3 months"),
    ("2026-10", datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc), "October 2026"),
    ("2026-12", datetime(2026, 12, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc), "December 2026"),
    ("2026", datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc), "2026"),
])
def test_periods_as_the_parser_writes_them(period: str | None, since: datetime, until: datetime, label: str) -> None:
    assert period_bounds(period, NOW) == (since, until, label)


def test_months_back_from_a_long_month_end_on_the_shorter_months_last_day() -> None:
    assert period_bounds("1m", datetime(2026, 3, 31, tzinfo=timezone.utc))[0] == datetime(2026, 2, 28, tzinfo=timezone.utc)


def test_median_interpolates_and_p90_is_a_time_someone_took() -> None:
    times = [timedelta(minutes=m) for m in (10, 20, 30, 40, 50, 60, 70, 80, 90, 600)]
    assert median(times) == timedelta(minutes=55)
    assert percentile(times, 0.9) == timedelta(minutes=90)
    assert median([]) is None and percentile([], 0.9) is None
    assert percentile([H], 0.9) == H


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=60))
def test_p90_has_at_least_90_percent_at_or_below_it_and_is_the_smallest_such(minutes: list[int]) -> None:
    times = [timedelta(minutes=m) for m in minutes]
    p90 = percentile(times, 0.9)
    assert p90 in times
    assert sum(t <= p90 for t in times) >= 0.9 * len(times)
    assert all(sum(t <= smaller for t in times) < 0.9 * len(times) for smaller in times if smaller < p90)


def test_desks_are_listed_under_their_country_and_coordinators_copies_left_out() -> None:
    rows = [
        ExchangeTimes("A-2026-0001", "th-npoc", NOW - 10 * H, True, NOW - 10 * H, NOW - 9 * H, None,
                      NOW - 8 * H, NOW + 14 * H),
        ExchangeTimes("A-2026-0001", "th-immigration", NOW - 10 * H, True, NOW - 10 * H, NOW - 6 * H, NOW - 5 * H,
                      NOW - 8 * H, NOW + 14 * H),
        ExchangeTimes("A-2026-0001", "rso-coord", NOW - 10 * H, True, NOW - 10 * H, None, None, NOW - 8 * H,
                      NOW + 14 * H),
    ]
    groups = group_stats(rows, small_network(), NOW)
    assert [g.line() for g in groups] == [
        "TH: ack median 2h30m, p90 4h (2; 1 late) · feedback median 5h, p90 5h (1)",
        "  TH/immigration: ack median 4h, p90 4h (1; 1 late) · feedback median 5h, p90 5h (1)",
        "All: ack median 2h30m, p90 4h (2; 1 late) · feedback median 5h, p90 5h (1)",
    ]
    assert render_stats([], "the last 30 days", NOW - 30 * 24 * H, NOW) == (
        "No deliveries in the last 30 days (24 Oct 2026 – 23 Nov 2026, UTC).")
