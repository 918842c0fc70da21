"""Conversations about who owes what: /overdue, /stats, /snooze, /remind and /escalate, on fakes."""

from __future__ import annotations

import pytest

from alerts.audit import AuditAction
from alerts.messages import MessageKind
from tests.unit.test_reminder_service import ReminderBot

REF = "A-2026-0001"


@pytest.fixture
def bot() -> ReminderBot:
    """Malaysia's officer sent an AMBER alert to Thailand and Malaysia, and a RED one to Thailand's
    point of contact, at 09:00 UTC; both were delivered a minute later; it is now 11:01 UTC."""
    bot = ReminderBot()
    bot.says("my-officer", "/alert to:TH,MY tlp:amber priority:urgent Two travellers, flight XX123")
    bot.says("my-officer", "/alert to:@th-npoc tlp:red priority:urgent Source in the crew")
    bot.worker_sends()
    bot.later(2 * 60)
    return bot


def test_a_coordinator_sees_who_owes_what_most_overdue_first(bot: ReminderBot) -> None:
    bot.says("my-npoc", f"/ack {REF}")
    bot.later(5)
    answer = bot.answer("rso-coord", "/overdue")
    assert answer.splitlines() == [
        "Overdue: 2, most overdue first (times Asia/Bangkok)",  # the coordinator's clock, in their direct chat
        "A-2026-0001 TLP:AMBER · Th Npoc (Thailand) owes acknowledgement since 23 Nov 17:01 (1h5m late) · "
        "from My Officer (Malaysia)",
        "A-2026-0002 TLP:RED · Th Npoc (Thailand) owes acknowledgement since 23 Nov 17:01 (1h5m late) · "
        "from My Officer (Malaysia)",
    ]
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.CONSULTATION]
    assert bot.store.audit[-1].detail["references"] == "A-2026-0001, A-2026-0002"


def test_in_a_room_red_items_are_counted_not_listed(bot: ReminderBot) -> None:
    [answer] = bot.says("rso-coord", "/overdue", chat="console:#coordination")
    assert "A-2026-0001 TLP:AMBER" in answer
    assert "(times UTC)" in answer and "since 23 Nov 10:01 (" in answer  # several readers: UTC, named
    assert "A-2026-0002" not in answer and "1 more under TLP:AMBER+STRICT or TLP:RED" in answer


@pytest.mark.parametrize("scope, who", [("TH", {"Th Npoc"}), ("MY", {"My Npoc"}), ("TH/immigration", set()),
                                        ("@my-npoc", {"My Npoc"}), ("tha", {"Th Npoc"})])
def test_overdue_narrows_to_a_country_desk_or_person(bot: ReminderBot, scope: str, who: set[str]) -> None:
    answer = bot.answer("rso-coord", f"/overdue {scope}")
    named = {name for name in ("Th Npoc", "My Npoc") if f"· {name} (" in answer}
    assert named == who
    if not who:
        assert answer == f"Nothing is overdue for {scope}."


def test_a_point_of_contact_sees_only_what_they_owe(bot: ReminderBot) -> None:
    answer = bot.answer("my-npoc", "/overdue")
    assert "My Npoc (Malaysia) owes acknowledgement" in answer and "Th Npoc" not in answer


def test_stats_give_median_and_90th_percentile_per_country(bot: ReminderBot) -> None:
    bot.says("th-npoc", f"/ack {REF}")  # 2h after receipt, an hour late
    bot.later(60)
    bot.says("my-npoc", f"/reply {REF} Both travellers known")  # 3h after receipt
    lines = bot.answer("rso-coord", "/stats").splitlines()
    assert lines[0].startswith("Exchange statistics, the last 30 days (24 Oct 2026 – 23 Nov 2026, UTC): 3 deliveries.")
    assert lines[1:] == [
        "MY: ack median 3h, p90 3h (1; 1 late) · feedback median 3h, p90 3h (1)",
        "TH: ack median 2h, p90 2h (1; 2 late) · feedback none yet · overdue now 1",  # and the RED one, unanswered
        "All: ack median 2h30m, p90 3h (2; 3 late) · feedback median 3h, p90 3h (1) · overdue now 1",
    ]


def test_stats_are_for_coordinators_and_auditors(bot: ReminderBot) -> None:
    assert bot.answer("th-npoc", "/stats").startswith("/stats needs one of these roles:")
    assert bot.answer("auditor", "/stats 2026-11").startswith("Exchange statistics, November 2026 (01 Nov 2026 – 30 Nov")


def test_a_recipient_snoozes_their_reminders_with_a_reason_that_is_recorded(bot: ReminderBot) -> None:
    assert bot.answer("th-npoc", f"/snooze {REF} 4h waiting for the airline") == (
        f"Reminders on {REF} for you are held until 23 Nov 22:01 UTC+7. The reason is recorded.")
    snooze = bot.store.audit[-1]
    assert (snooze.action, snooze.reference, snooze.detail["reason"], snooze.detail["for"]) == (
        AuditAction.REMINDER, REF, "waiting for the airline", "th-npoc")
    told = bot.messages_to("my-officer")[-1].text.splitlines()
    assert told[0] == f"[TLP:AMBER] {REF} · URGENT alert"  # their words about the item: the banner first
    assert told[1].endswith("until 23 Nov 23:01 UTC+8. Reason: waiting for the airline")  # Kuala Lumpur's clock
    bot.tick()
    assert not [m for m in bot.reminders("th-npoc") if REF in m.key]  # held, while Malaysia's go on
    assert [m for m in bot.reminders("my-npoc") if REF in m.key]
    bot.tick(4 * 60)
    assert len([m for m in bot.reminders("th-npoc") if REF in m.key]) == 1  # one, late, at the end


def test_only_those_involved_may_snooze_and_a_closed_item_has_nothing_to_snooze(bot: ReminderBot) -> None:
    assert bot.answer("iom-npoc", f"/snooze {REF} 4h").startswith(f"Only recipients of {REF}, its originator")
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.REFUSAL]
    bot.says("my-officer", f"/close {REF} done")
    assert bot.answer("th-npoc", f"/snooze {REF} 4h") == (
        f"{REF} is closed: there are no reminders on it any more. See /status {REF}.")


def test_the_originator_reminds_everyone_who_still_owes_at_once(bot: ReminderBot) -> None:
    bot.says("my-npoc", f"/reply {REF} Known to us")
    answer = bot.answer("my-officer", f"/remind {REF}")
    assert answer == f"Reminded about {REF}: Th Npoc (Thailand) (acknowledgement; it is 23 Nov 18:01 UTC+7 there)."
    nudge = bot.messages_to("th-npoc")[-1]
    assert nudge.kind is MessageKind.REMINDER and nudge.text.splitlines() == [
        f"[TLP:AMBER] {REF} · URGENT alert",
        f"My Officer (Malaysia) asks you to acknowledge {REF}: it was due 23 Nov 17:01 UTC+7.",
        f"Acknowledge: /ack {REF}",
    ]
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.REMINDER]


def test_only_the_originator_or_a_coordinator_reminds(bot: ReminderBot) -> None:
    assert bot.answer("th-npoc", f"/remind {REF}") == (
        f"Only the originator of {REF} or a coordinator can remind its recipients.")
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.REFUSAL]


def test_a_recipient_escalates_to_the_coordinators_with_who_owes_what(bot: ReminderBot) -> None:
    assert bot.answer("th-npoc", f"/escalate {REF}") == f"{REF} is escalated to Rso Coord (Regional Support Office)."
    escalation = bot.messages_to("rso-coord")[-1]
    assert escalation.kind is MessageKind.ESCALATION
    assert escalation.text.splitlines()[:3] == [
        f"[TLP:AMBER] {REF} · URGENT alert",
        f"Escalated by Th Npoc (Thailand): {REF} from My Officer (Malaysia).",
        "Th Npoc (Thailand) owes acknowledgement since 23 Nov 17:01 UTC+7 (1h late).",  # Bangkok: the coordinator's
    ]
    assert "Two travellers" not in escalation.text
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.ESCALATION]
    assert bot.store.audit[-1].recipients == ("rso-coord",)


def test_someone_outside_the_item_cannot_escalate_it(bot: ReminderBot) -> None:
    assert bot.answer("iom-npoc", f"/escalate {REF}").startswith("Only the originator, recipients and coordinators")


def test_a_step_just_due_is_due_now_not_zero_minutes_late() -> None:
    bot = ReminderBot()
    bot.says("my-officer", "/alert to:TH tlp:amber priority:urgent Two travellers, flight XX123")
    bot.worker_sends()
    bot.later(60)  # the acknowledgement falls due this very minute
    answer = bot.answer("rso-coord", "/overdue")
    assert "owes acknowledgement since 23 Nov 17:01 (due now)" in answer, answer
    assert "0m late" not in answer


def test_an_escalation_before_anything_is_overdue_says_when_it_is_due_not_since() -> None:
    """/escalate is allowed before the due time; "owes it since <a time still to come>" is no sentence."""
    bot = ReminderBot()
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Two travellers, flight XX123")
    bot.worker_sends()
    bot.later(10)
    assert bot.answer("th-npoc", f"/escalate {REF}").endswith("is escalated to Rso Coord (Regional Support Office).")
    owed = bot.messages_to("rso-coord")[-1].text.splitlines()[2]
    assert owed == "Th Npoc (Thailand) owes acknowledgement by 23 Nov 17:01 UTC+7 (not overdue yet).", owed
