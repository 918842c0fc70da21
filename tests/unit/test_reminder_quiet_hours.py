"""Quiet hours in each person's own time zone, across daylight-saving changes (zoneinfo, no guessing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.caveats import Caveat
from alerts.lifecycle import DeliveryState, Progress
from alerts.priority import Priority
from alerts.reminder_policy import QuietHours, ReminderPolicy, first_instant_at_or_after, zone_of
from alerts.reminders import FollowUp, Stage, plan_item
from tests.sample_network import small_network

NIGHT = QuietHours(time(22, 0), time(7, 0))
UTC = timezone.utc


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("zone, planned, released, why", [
    # America/Toronto falls back on 1 Nov 2026 (EDT, UTC-4 -> EST, UTC-5): the night is 10 hours long.
    ("America/Toronto", at(2026, 11, 1, 3, 0), at(2026, 11, 1, 12, 0), "23:00 EDT -> 07:00 EST"),
    # ... and springs forward on 8 Mar 2026 (EST -> EDT): the night is 8 hours long.
    ("America/Toronto", at(2026, 3, 8, 4, 0), at(2026, 3, 8, 11, 0), "23:00 EST -> 07:00 EDT"),
    # Australia/Canberra starts daylight saving on 4 Oct 2026 (AEST, UTC+10 -> AEDT, UTC+11).
    ("Australia/Canberra", at(2026, 10, 3, 13, 0), at(2026, 10, 3, 20, 0), "23:00 AEST -> 07:00 AEDT"),
    # ... and ends it on 5 Apr 2026 (AEDT -> AEST).
    ("Australia/Canberra", at(2026, 4, 4, 12, 0), at(2026, 4, 4, 21, 0), "23:00 AEDT -> 07:00 AEST"),
    ("Asia/Bangkok", at(2026, 11, 23, 16, 0), at(2026, 11, 24, 0, 0), "23:00 -> 07:00, no daylight saving"),
    ("Asia/Bangkok", at(2026, 11, 23, 20, 0), at(2026, 11, 24, 0, 0), "03:00, after midnight -> 07:00 the same day"),
    ("Asia/Bangkok", at(2026, 11, 23, 2, 0), at(2026, 11, 23, 2, 0), "09:00: not quiet, goes at once"),
])
def test_routine_reminders_wait_for_the_morning_on_the_recipients_own_clock(
        zone: str, planned: datetime, released: datetime, why: str) -> None:
    assert NIGHT.release(planned, zone) == released, why


def test_the_end_of_quiet_hours_in_a_skipped_hour_is_when_the_clocks_jump() -> None:
    # 02:30 never shows in Toronto on 8 Mar 2026: at 02:00 EST (07:00 UTC) the clocks go to 03:00 EDT.
    assert first_instant_at_or_after(date(2026, 3, 8), time(2, 30), zone_of("America/Toronto")) == at(2026, 3, 8, 7, 0)
    short_night = QuietHours(time(22, 0), time(2, 30))
    assert short_night.release(at(2026, 3, 8, 5, 0), "America/Toronto") == at(2026, 3, 8, 7, 0)


def test_the_end_of_quiet_hours_in_a_repeated_hour_is_its_first_occurrence() -> None:
    # 01:30 shows twice in Toronto on 1 Nov 2026: first at 05:30 UTC (EDT), again at 06:30 UTC (EST).
    assert first_instant_at_or_after(date(2026, 11, 1), time(1, 30), zone_of("America/Toronto")) == at(2026, 11, 1, 5, 30)


def test_a_window_that_does_not_span_midnight() -> None:
    early = QuietHours(time(0, 0), time(6, 0))
    assert early.release(at(2026, 11, 23, 2, 0), "UTC") == at(2026, 11, 23, 6, 0)
    assert early.release(at(2026, 11, 23, 23, 0), "UTC") == at(2026, 11, 23, 23, 0)


def test_urgent_reminders_are_never_held_and_cannot_be_configured_to_be() -> None:
    policy = ReminderPolicy(quiet=NIGHT)
    night = at(2026, 11, 23, 20, 0)  # 03:00 in Bangkok
    assert policy.release(night, Priority.URGENT, "Asia/Bangkok") == night
    assert policy.release(night, Priority.PRIORITY, "Asia/Bangkok") == night  # only routine, by default
    assert policy.release(night, Priority.ROUTINE, "Asia/Bangkok") == at(2026, 11, 24, 0, 0)
    with pytest.raises(ValueError, match="urgent"):
        ReminderPolicy(quiet=NIGHT, quiet_for=frozenset({Priority.URGENT}))


def test_an_unknown_zone_is_taken_as_utc_rather_than_failing_the_round() -> None:
    assert NIGHT.release(at(2026, 11, 23, 23, 0), "Mars/Olympus_Mons") == at(2026, 11, 24, 7, 0)


def test_one_item_to_three_time_zones_reaches_each_in_their_own_morning() -> None:
    """A routine item due at 13:00 UTC: night in Canberra and Bangkok's evening is free, Toronto's morning."""
    directory = small_network()
    created = at(2026, 11, 22, 13, 0)
    recipients = tuple(Progress(c, DeliveryState.SENT, sent_at=created) for c in ("th-npoc", "au-npoc", "ca-npoc"))
    follow = FollowUp("A-2026-0001", Priority.ROUTINE, Caveat(), created, created + timedelta(days=1),
                      created + timedelta(days=7), "my-officer", True, recipients)
    policy = ReminderPolicy(quiet=NIGHT)
    early = plan_item(follow, at(2026, 11, 23, 9, 0), policy, directory)  # 4h before: evening in Canberra
    follow = replace(follow, done=frozenset(r.key for r in early.send))
    due = at(2026, 11, 23, 13, 0)  # Bangkok 20:00, Canberra 00:00 (AEDT), Toronto 08:00
    plan = plan_item(follow, due, policy, directory)
    assert {(r.target, r.stage) for r in plan.send} == {("th-npoc", Stage.DUE), ("ca-npoc", Stage.DUE)}
    assert plan.next_at == at(2026, 11, 23, 20, 0)  # 07:00 in Canberra
    held = plan_item(follow, at(2026, 11, 23, 20, 0), policy, directory)
    assert [(r.target, r.stage) for r in held.send if r.target == "au-npoc"] == [("au-npoc", Stage.DUE)]


ZONES = ["America/Toronto", "Australia/Canberra", "Asia/Bangkok", "Europe/London", "Pacific/Auckland",
         "America/Santiago", "Asia/Tehran", "Australia/Lord_Howe", "UTC"]


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES),
       moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
       start=st.sampled_from([time(21, 0), time(22, 30), time(0, 0), time(1, 30)]),
       end=st.sampled_from([time(6, 0), time(7, 0), time(2, 30), time(8, 15)]))
def test_release_is_never_early_never_in_quiet_hours_and_the_first_moment_after_them(
        zone: str, moment: datetime, start: time, end: time) -> None:
    if start == end:
        return
    quiet = QuietHours(start, end)
    released = quiet.release(moment, zone)
    assert released >= moment
    assert not quiet.holds(released, zone)
    assert released - moment < timedelta(hours=25)
    if released > moment:  # held: it was quiet all the way up to the release, to the second
        assert quiet.holds(moment, zone) and quiet.holds(released - timedelta(seconds=1), zone)


def test_a_routine_reminder_missed_while_the_bot_was_down_still_waits_for_the_morning() -> None:
    """Due at 18:00 in Bangkok, the bot back at 23:30: it is night there now, so it goes at 07:00."""
    directory = small_network()
    created = at(2026, 11, 22, 11, 0)
    follow = FollowUp("A-2026-0001", Priority.ROUTINE, Caveat(), created, created + timedelta(days=1),
                      created + timedelta(days=7), "my-officer", True,
                      (Progress("th-npoc", DeliveryState.SENT, sent_at=created),))
    policy = ReminderPolicy(quiet=NIGHT)
    back = at(2026, 11, 23, 16, 30)
    plan = plan_item(follow, back, policy, directory)
    assert plan.send == () and plan.next_at == at(2026, 11, 24, 0, 0)
    morning = plan_item(follow, at(2026, 11, 24, 0, 0), policy, directory)
    assert [(r.stage, r.target) for r in morning.send] == [(Stage.DUE, "th-npoc")]
    assert [r.stage for r in morning.superseded] == [Stage.BEFORE]
