"""alerts.reminders: which reminders and escalations are due, as a pure function of state and time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from alerts.caveats import Caveat, Tlp
from alerts.lifecycle import DeliveryState, Progress
from alerts.priority import Priority
from alerts.reminder_policy import ReminderPolicy
from alerts.reminders import FollowUp, Reminder, Snooze, Stage, Track, overdue, plan_item, reminder_key
from tests.sample_network import small_network

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
SENT = T0 + timedelta(minutes=1)
NETWORK = small_network()
POLICY = ReminderPolicy()  # default stages, no quiet hours: these tests are about stages


def item(*recipients: Progress, priority: Priority = Priority.URGENT, tlp: Tlp = Tlp.AMBER,
         ack: timedelta = timedelta(hours=1), feedback: timedelta = timedelta(hours=24), **fields: object) -> FollowUp:
    values: dict[str, object] = dict(
        reference="A-2026-0001", priority=priority, caveat=Caveat(tlp), created_at=T0, ack_due=T0 + ack,
        feedback_due=T0 + feedback, originator="my-officer", open=True,
        recipients=recipients or (sent("th-npoc"),))
    values.update(fields)
    return FollowUp(**values)  # type: ignore[arg-type]


def sent(contact: str, state: DeliveryState = DeliveryState.SENT, at: datetime = T0) -> Progress:
    """A copy sent at `at` (so its due times are the item's own)."""
    return Progress(contact, state, sent_at=at)


def stages(plan_send: tuple[Reminder, ...] | list[Reminder]) -> list[tuple[str, str, int, str]]:
    return [(r.track.value, r.stage.value, r.n, r.target) for r in plan_send]


def run(follow: FollowUp, until: datetime, step: timedelta = timedelta(minutes=1)) -> list[tuple[datetime, Reminder]]:
    """Every reminder sent, minute by minute, as the scheduler would send them, noting each as done."""
    sent_so_far: list[tuple[datetime, Reminder]] = []
    now = T0
    while now <= until:
        plan = plan_item(follow, now, POLICY, NETWORK)
        sent_so_far += [(now, r) for r in plan.send]
        follow = replace(follow, done=follow.done | {r.key for r in plan.send + plan.superseded})
        now += step
    return sent_so_far


def test_an_urgent_item_goes_through_every_stage_at_its_time() -> None:
    timeline = [(when - T0, r.track.value, r.stage.value, r.n, r.target) for when, r in run(item(), T0 + timedelta(hours=3))]
    assert timeline == [
        (timedelta(minutes=45), "ack", "before", 0, "th-npoc"),
        (timedelta(hours=1), "ack", "due", 0, "th-npoc"),
        (timedelta(hours=1, minutes=30), "ack", "repeat", 1, "th-npoc"),
        (timedelta(hours=1, minutes=30), "ack", "backup", 0, "th-deputy"),
        (timedelta(hours=2), "ack", "repeat", 2, "th-npoc"),
        (timedelta(hours=2), "ack", "coordinators", 0, "rso-coord"),
        (timedelta(hours=2, minutes=30), "ack", "repeat", 3, "th-npoc"),
    ]


def test_acknowledging_stops_the_acknowledgement_reminders_but_not_feedback() -> None:
    acked = item(Progress("th-npoc", DeliveryState.ACKNOWLEDGED, sent_at=T0, acknowledged_at=T0))
    sent_ = run(acked, T0 + timedelta(hours=26), step=timedelta(minutes=15))
    assert {r.track for _, r in sent_} == {Track.FEEDBACK}
    assert [(w - T0, r.stage.value) for w, r in sent_][:2] == [(timedelta(hours=23, minutes=45), "before"),
                                                              (timedelta(hours=24), "due")]


@pytest.mark.parametrize("follow", [
    item(Progress("th-npoc", DeliveryState.ANSWERED, sent_at=T0, acknowledged_at=T0, answered_at=T0)),
    item(open=False),
    item(Progress("th-npoc", DeliveryState.QUEUED)),  # never sent: they do not have it to acknowledge
], ids=["feedback given", "closed", "not sent yet"])
def test_feedback_closure_or_no_copy_means_no_reminder_at_all(follow: FollowUp) -> None:
    assert run(follow, T0 + timedelta(days=30), step=timedelta(hours=1)) == []
    assert plan_item(follow, T0, POLICY, NETWORK).next_at is None


def test_what_was_done_never_comes_back_so_planning_again_sends_nothing_twice() -> None:
    late = T0 + timedelta(hours=1, minutes=40)
    first = plan_item(item(), late, POLICY, NETWORK)
    assert stages(first.send) == [("ack", "repeat", 1, "th-npoc"), ("ack", "backup", 0, "th-deputy")]
    done = item(done=frozenset(r.key for r in first.send + first.superseded))
    assert plan_item(done, late, POLICY, NETWORK).send == ()
    assert plan_item(done, late, POLICY, NETWORK).next_at == T0 + timedelta(hours=2)


def test_after_a_downtime_one_reminder_goes_late_and_the_older_stages_are_superseded() -> None:
    plan = plan_item(item(), T0 + timedelta(hours=2, minutes=10), POLICY, NETWORK)
    assert stages(plan.send) == [("ack", "backup", 0, "th-deputy"), ("ack", "repeat", 2, "th-npoc"),
                                 ("ack", "coordinators", 0, "rso-coord")]  # in the order they were planned
    assert [(r.stage.value, r.n) for r in plan.superseded] == [("before", 0), ("due", 0), ("repeat", 1)]


def test_a_recipient_reached_late_gets_the_whole_allowance_from_their_copy() -> None:
    forwarded = item(sent("th-npoc"), sent("my-npoc", at=T0 + timedelta(hours=5)))
    plan = plan_item(forwarded, T0 + timedelta(hours=5, minutes=1), POLICY, NETWORK)
    assert {r.contact for r in plan.send} == {"th-npoc"}  # not my-npoc, whose copy is a minute old
    my_due = [r for _, r in run(forwarded, T0 + timedelta(hours=7)) if r.contact == "my-npoc" and r.stage is Stage.DUE]
    assert [r.due for r in my_due] == [T0 + timedelta(hours=6)]


def test_tlp_red_is_not_escalated_to_a_backup_who_is_not_named() -> None:
    red = plan_item(item(tlp=Tlp.RED), T0 + timedelta(hours=3), POLICY, NETWORK)
    assert Stage.BACKUP not in {r.stage for r in red.send}
    assert Stage.COORDINATORS in {r.stage for r in red.send}


def test_coordinators_copies_are_for_oversight_and_never_chased() -> None:
    follow = item(sent("th-npoc"), sent("rso-coord"))
    assert {r.contact for r in plan_item(follow, T0 + timedelta(hours=3), POLICY, NETWORK).send} == {"th-npoc"}
    assert [o.contact for o in overdue([follow], T0 + timedelta(hours=3), NETWORK)] == ["th-npoc"]


def test_a_snooze_holds_reminders_and_escalations_about_that_recipient_only() -> None:
    snoozed = item(sent("th-npoc"), sent("my-npoc"),
                   snoozes=(Snooze("th-npoc", T0 + timedelta(hours=4), "th-npoc", T0),))
    during = plan_item(snoozed, T0 + timedelta(hours=3), POLICY, NETWORK)
    assert {r.contact for r in during.send} == {"my-npoc"}
    after = plan_item(replace(snoozed, done=frozenset(r.key for r in during.send + during.superseded)),
                      T0 + timedelta(hours=4), POLICY, NETWORK)
    assert stages(after.send) == [("ack", "backup", 0, "th-deputy"), ("ack", "coordinators", 0, "rso-coord"),
                                  ("ack", "repeat", 3, "th-npoc")]


def test_a_snooze_of_the_whole_item_holds_everyone() -> None:
    snoozed = item(sent("th-npoc"), sent("my-npoc"), snoozes=(Snooze(None, T0 + timedelta(hours=4), "my-officer", T0),))
    plan = plan_item(snoozed, T0 + timedelta(hours=3), POLICY, NETWORK)
    assert plan.send == () and plan.next_at == T0 + timedelta(hours=4)


def test_acknowledgement_due_with_feedback_is_one_track_not_two() -> None:
    same = item(ack=timedelta(hours=2), feedback=timedelta(hours=2))
    assert {r.track for _, r in run(same, T0 + timedelta(hours=5))} == {Track.FEEDBACK}



def test_once_feedback_is_due_its_reminders_stand_for_the_acknowledgements_one_message_not_two() -> None:
    """A routine request: acknowledge within a day, answer within three. Once the answer is due, the
    acknowledgement's repeats would reach the recipient beside the answer's, at the same minute and
    again every day after; answering acknowledges too, so the answer's reminders are enough. The
    acknowledgement's escalations still go: it was overdue for days before."""
    request = item(priority=Priority.ROUTINE, ack=timedelta(days=1), feedback=timedelta(days=3))
    sent_ = run(request, T0 + timedelta(days=7), step=timedelta(hours=1))
    to_recipient = [(when - T0, r.track.value, r.stage.value, r.n) for when, r in sent_ if r.target == "th-npoc"]
    assert to_recipient == [
        (timedelta(hours=20), "ack", "before", 0),
        (timedelta(days=1), "ack", "due", 0),
        (timedelta(days=2), "ack", "repeat", 1),
        (timedelta(days=2, hours=20), "feedback", "before", 0),
        (timedelta(days=3), "feedback", "due", 0),
        (timedelta(days=4), "feedback", "repeat", 1),
        (timedelta(days=5), "feedback", "repeat", 2),
        (timedelta(days=6), "feedback", "repeat", 3),
    ]
    escalations = [(when - T0, r.track.value, r.stage.value) for when, r in sent_ if r.stage.escalation]
    assert escalations == [(timedelta(days=2), "ack", "backup"), (timedelta(days=3), "ack", "coordinators"),
                           (timedelta(days=4), "feedback", "backup"), (timedelta(days=5), "feedback", "coordinators")]


def test_an_acknowledgement_reminder_held_past_the_feedback_due_time_gives_way_to_the_feedbacks() -> None:
    """Held by a snooze until after the answer is due, the acknowledgement's reminder and the answer's
    fall due together: one message, the answer's."""
    request = item(priority=Priority.ROUTINE, ack=timedelta(hours=2), feedback=timedelta(hours=6),
                   snoozes=(Snooze("th-npoc", T0 + timedelta(hours=7), "th-npoc", T0),))
    plan = plan_item(request, T0 + timedelta(hours=7), POLICY, NETWORK)
    assert stages(plan.send) == [("feedback", "due", 0, "th-npoc")]
    assert ("ack", "due", 0, "th-npoc") in stages(plan.superseded)

def test_keys_are_deterministic_distinct_and_fit_the_outbox() -> None:
    keys = {r.key for _, r in run(item(sent("th-npoc"), sent("my-npoc")), T0 + timedelta(days=3), timedelta(minutes=5))}
    again = {r.key for _, r in run(item(sent("th-npoc"), sent("my-npoc")), T0 + timedelta(days=3), timedelta(minutes=5))}
    assert keys == again and len(keys) == len(run(item(sent("th-npoc"), sent("my-npoc")), T0 + timedelta(days=3),
                                                  timedelta(minutes=5)))
    assert "rem:A-2026-0001:th-npoc:ack-backup:0:th-deputy" in keys
    long = reminder_key("A-2026-0001", "x" * 150, Track.ACK, Stage.DUE, 0, "y" * 150)
    assert len(long) <= 100 and long == reminder_key("A-2026-0001", "x" * 150, Track.ACK, Stage.DUE, 0, "y" * 150)
    assert long != reminder_key("A-2026-0001", "x" * 150, Track.ACK, Stage.DUE, 1, "y" * 150)


def test_overdue_lists_feedback_once_due_else_the_acknowledgement_most_overdue_first() -> None:
    follow = item(sent("th-npoc"), Progress("my-npoc", DeliveryState.ACKNOWLEDGED, sent_at=T0, acknowledged_at=T0),
                  sent("iom-npoc", at=T0 + timedelta(hours=2)))
    found = overdue([follow], T0 + timedelta(hours=25), NETWORK)
    assert [(o.contact, o.track.value, o.due - T0) for o in found] == [  # iom-npoc got it 2h late: ack by 3h
        ("iom-npoc", "ack", timedelta(hours=3)), ("my-npoc", "feedback", timedelta(hours=24)),
        ("th-npoc", "feedback", timedelta(hours=24))]
    assert [(o.contact, o.track.value) for o in overdue([follow], T0 + timedelta(hours=2), NETWORK)] == [
        ("th-npoc", "ack")]
