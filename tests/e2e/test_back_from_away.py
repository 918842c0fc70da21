"""Back from away, as a coordinator's week lives it (tests/e2e/command_world.py, a manual clock):
what the person had before going away and still owes is in their summary, and their reminders
resume for them by the usual stages, even when every one went to their delegate meanwhile."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.identity import ChatRef, UserRef
from alerts.messages import MessageKind
from bot.connectors.base import Outgoing
from tests.e2e.command_world import T0, World

URGENT = "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted off Satun"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    (tmp_path / "bot").mkdir()
    world = World(tmp_path / "bot", None)
    try:
        yield world
    finally:
        world.shutdown()
        shutil.rmtree(tmp_path / "bot", ignore_errors=True)


def says(world: World, who: str, text: str) -> list[Outgoing]:
    return world.says(UserRef.parse(f"console:{who}"), ChatRef.parse(f"console:@{who}"), text).sent


def passes(world: World, hours: int) -> list[Outgoing]:
    sent: list[Outgoing] = []
    for _ in range(hours * 2):
        sent += world.later(timedelta(minutes=30))
    return sent


def test_back_the_person_is_told_and_reminded_again_of_what_they_owed_before(world: World) -> None:
    says(world, "my-officer", URGENT)
    world.later(timedelta(minutes=5))  # they had it before they went
    says(world, "th-npoc", f"/away until:{T0 + timedelta(days=2):%Y-%m-%d} backup:@th-immigration on leave")
    meanwhile = passes(world, 6)
    to_delegate = [m for m in meanwhile if m.kind is MessageKind.REMINDER and m.contact == "th-immigration"]
    assert to_delegate, "the reminders went to the delegate"
    assert not [m for m in passes(world, 1) if m.kind is MessageKind.REMINDER], "all used up"
    back = says(world, "th-npoc", "/back")
    [summary] = [m for m in back if "While you were away" in m.text]
    owed = summary.text.partition("Still waiting for you from before:")[2]
    assert "A-2026-0001" in owed and "not yet acknowledged" in owed, summary.text
    after = [m for m in passes(world, 2) if m.kind is MessageKind.REMINDER]
    assert [m.contact for m in after] and {m.contact for m in after} == {"th-npoc"}, after
    assert all("A-2026-0001" in m.text for m in after)
    # One at a time, by the usual repeat: not a burst.
    assert len(after) <= 4


def test_an_absence_ending_by_its_date_is_summed_up_at_the_start_of_their_morning(world: World) -> None:
    # T0 is 16:00 in Bangkok: away through today, back at midnight there (17:00 UTC); their morning
    # begins when the quiet hours end, 07:00 Bangkok (00:00 UTC).
    says(world, "th-npoc", f"/away until:{T0:%Y-%m-%d} backup:@th-immigration on leave")
    summaries: list[tuple[timedelta, Outgoing]] = []
    for _ in range(40):
        summaries += [(world.clock.now() - T0, m) for m in world.later(timedelta(minutes=30))
                      if "While you were away" in m.text]
    assert [when for when, _ in summaries] == [timedelta(hours=15)], summaries


def test_typing_back_before_the_morning_brings_the_summary_then(world: World) -> None:
    says(world, "th-npoc", f"/away until:{T0:%Y-%m-%d} backup:@th-immigration on leave")
    early = passes(world, 10)  # 02:00 in Bangkok: back, their morning not begun
    assert not [m for m in early if "While you were away" in m.text]
    assert [m for m in says(world, "th-npoc", "/back") if "While you were away" in m.text]
    assert not [m for m in passes(world, 8) if "While you were away" in m.text], "once"
