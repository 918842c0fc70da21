"""alerts.reminders: a recipient back from away is reminded again of what they still owe, by the
normal policy (repeats from when they came back), even when every reminder went to their delegate."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from alerts.away import Absence
from alerts.caveats import Caveat, Tlp
from alerts.lifecycle import DeliveryState, Progress
from alerts.priority import Priority
from alerts.reminder_policy import ReminderPolicy
from alerts.reminders import FollowUp, Reminder, Stage, plan_item
from tests.sample_network import small_network

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
NETWORK = small_network()
POLICY = ReminderPolicy()
# th-npoc away from T0 + 30 min to T0 + 5 h: every one of their ack reminders falls meanwhile.
AWAY = Absence("ab1", "th-npoc", "th-deputy", T0 + timedelta(hours=5), "", "th-npoc", T0 + timedelta(minutes=30))


def follow_up() -> FollowUp:
    return FollowUp("A-2026-0001", Priority.URGENT, Caveat(Tlp.AMBER), T0, T0 + timedelta(hours=1), None,
                    "my-officer", True, (Progress("th-npoc", DeliveryState.SENT, sent_at=T0),))


def run(until: datetime, returned: list[Absence]) -> list[tuple[datetime, Reminder]]:
    follow, now, out = follow_up(), T0, []
    while now <= until:
        plan = plan_item(follow, now, POLICY, NETWORK, returned=lambda c: returned if c == "th-npoc" else [])
        out += [(now, r) for r in plan.send]
        follow = replace(follow, done=follow.done | {r.key for r in plan.send + plan.superseded})
        now += timedelta(minutes=5)
    return out


def mine(sent: list[tuple[datetime, Reminder]]) -> list[tuple[timedelta, str, int]]:
    return [(when - T0, r.stage.value, r.n) for when, r in sent if r.target == "th-npoc"]


def test_without_an_absence_the_reminders_end_after_the_last_repeat() -> None:
    assert mine(run(T0 + timedelta(hours=8), []))[-1] == (timedelta(hours=2, minutes=30), "repeat", 3)


def test_back_from_away_the_repeats_start_again_from_when_they_came_back_one_at_a_time() -> None:
    sent = mine(run(T0 + timedelta(hours=8), [AWAY]))
    back = [s for s in sent if s[0] >= timedelta(hours=5)]
    assert back == [(timedelta(hours=5, minutes=30), "repeat", 1), (timedelta(hours=6), "repeat", 2),
                    (timedelta(hours=6, minutes=30), "repeat", 3)]
    keys = {r.key for _, r in run(T0 + timedelta(hours=8), [AWAY])}
    assert len(keys) == len(run(T0 + timedelta(hours=8), [AWAY])), "each reminder once"


def test_an_absence_still_running_or_before_their_copy_changes_nothing() -> None:
    running = replace(AWAY, until=T0 + timedelta(days=3))
    before = replace(AWAY, set_at=T0 - timedelta(days=3), until=T0 - timedelta(days=1))
    plain = mine(run(T0 + timedelta(hours=8), []))
    assert mine(run(T0 + timedelta(hours=8), [running])) == plain
    assert mine(run(T0 + timedelta(hours=8), [before])) == plain


def test_away_again_during_the_resumed_repeats_they_begin_again_from_the_second_return() -> None:
    again = Absence("ab2", "th-npoc", "th-deputy", T0 + timedelta(hours=9), "", "th-npoc",
                    T0 + timedelta(hours=5, minutes=45))
    sent = mine(run(T0 + timedelta(hours=12), [AWAY, again]))
    assert [s for s in sent if s[0] >= timedelta(hours=9)] == [
        (timedelta(hours=9, minutes=30), "repeat", 1), (timedelta(hours=10), "repeat", 2),
        (timedelta(hours=10, minutes=30), "repeat", 3)]
