"""Scheduled reminders, escalations, digest and bulletin on in-memory fakes, driven by a manual clock.

`ReminderBot` is the follow-up conversation harness plus the ReminderService the scheduler calls:
`tick(minutes)` moves the clock and runs one scheduler round, as the APScheduler job would.
"""

from __future__ import annotations

from datetime import time

import pytest

from alerts.audit import AuditAction
from alerts.identity import ChatRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.reminder_policy import QuietHours, ReminderPolicy
from tests.fakes import MemoryUnitOfWork
from handlers.followup_reminders import ReminderService, TickReport
from tests.sample_network import network_with_rooms
from tests.unit.test_followup_harness import Bot

NIGHT = QuietHours(time(22, 0), time(7, 0))
REF = "A-2026-0001"
URGENT = "/alert to:TH,MY tlp:amber priority:urgent Two travellers, flight XX123"


class ReminderBot(Bot):
    def __init__(self, policy: ReminderPolicy | None = None) -> None:
        super().__init__(network_with_rooms())
        self.service = ReminderService(lambda: MemoryUnitOfWork(self.store), self.directory_source,
                                       policy or ReminderPolicy(quiet=NIGHT),
                                       digest_room=ChatRef.parse("console:#coordination"),
                                       bulletin_room=ChatRef.parse("console:#network"))

    def tick(self, minutes: int = 0) -> TickReport:
        self.later(minutes)
        return self.service.tick(self.clock.now())

    def reminders(self, contact: str | None = None) -> list[OutboundMessage]:
        found = [m for m in self.store.outbox.values() if m.kind in (MessageKind.REMINDER, MessageKind.ESCALATION)]
        return [m for m in found if contact is None or m.contact == contact]

    def stages_to(self, contact: str) -> list[str]:
        """`ack-due`, `ack-repeat:1`, ... of the scheduled reminders `contact` got, in order."""
        stages = []
        for message in self.reminders(contact):
            parts = message.key.split(":")
            if message.key.startswith("rem:"):
                stages.append(parts[3] + (f":{parts[4]}" if parts[4] != "0" else ""))
        return stages


@pytest.fixture
def bot() -> ReminderBot:
    bot = ReminderBot()
    bot.says("my-officer", URGENT)
    bot.worker_sends()
    return bot


def test_an_unacknowledged_urgent_alert_is_reminded_then_escalated(bot: ReminderBot) -> None:
    for _ in range(0, 150, 5):
        bot.tick(5)
    assert bot.stages_to("th-npoc") == ["ack-before", "ack-due", "ack-repeat:1", "ack-repeat:2", "ack-repeat:3"]
    assert bot.stages_to("th-deputy") == ["ack-backup"]  # Thailand's backup; Malaysia's contact has none
    assert bot.stages_to("rso-coord") == ["ack-coordinators", "ack-coordinators"]  # about TH, and about MY
    delivery = bot.received_by("th-npoc")[0]
    assert delivery.splitlines()[0] == "[TLP:AMBER] URGENT · from Malaysia"
    for message in bot.reminders():
        assert message.protect_content
        # The backup is given the item itself, so that they can act on it; nobody else its content.
        assert ("Two travellers" in message.text) == (message.contact == "th-deputy"), message
        if message.contact != "th-deputy":  # the same caveat and priority first, with the reference
            assert message.text.splitlines()[0] == f"[TLP:AMBER] {REF} · URGENT alert"


def test_every_reminder_is_an_audit_entry_of_its_own(bot: ReminderBot) -> None:
    bot.tick(150)
    audited = [e for e in bot.store.audit if e.action in (AuditAction.REMINDER, AuditAction.ESCALATION)]
    assert sorted(e.detail["key"] for e in audited) == sorted(m.key for m in bot.reminders())
    escalation = next(e for e in audited if e.detail["stage"] == "ack-backup")
    assert (escalation.action, escalation.recipients, escalation.reference, escalation.caveat) == (
        AuditAction.ESCALATION, ("th-deputy",), REF, "TLP:AMBER H0")


def test_running_a_round_again_or_planning_from_scratch_sends_nothing_twice(bot: ReminderBot) -> None:
    bot.tick(150)
    count, audited = len(bot.store.outbox), len(bot.store.audit)
    assert bot.tick() == TickReport()  # nothing is due: nothing was even looked at
    assert bot.service.reconcile(bot.clock.now()).sent == 0
    assert (len(bot.store.outbox), len(bot.store.audit)) == (count, audited)


def test_acknowledgement_stops_acknowledgement_reminders_and_feedback_ones_follow(bot: ReminderBot) -> None:
    bot.tick(50)
    bot.says("th-npoc", f"/ack {REF}")
    for _ in range(0, 24 * 60 + 60, 30):
        bot.tick(30)
    assert bot.stages_to("th-npoc") == ["ack-before", "feedback-before", "feedback-due", "feedback-repeat:1",
                                        "feedback-repeat:2", "feedback-repeat:3"]
    assert "ack-coordinators" not in [k.split(":")[3] for k in bot.store.outbox if ":th-npoc:" in k]


@pytest.mark.parametrize("ends_it", [f"/reply {REF} Confirmed", f"/close {REF} done"])
def test_feedback_or_closure_stops_every_reminder(bot: ReminderBot, ends_it: str) -> None:
    bot.tick(10)
    who = "th-npoc" if ends_it.startswith("/reply") else "my-officer"
    bot.says(who, ends_it)
    for _ in range(0, 48 * 60, 60):
        bot.tick(60)
    assert bot.stages_to("th-npoc") == []
    if who == "my-officer":  # closed: Malaysia is not chased either
        assert bot.stages_to("my-npoc") == []


def test_routine_reminders_wait_for_the_morning_and_urgent_ones_do_not() -> None:
    bot = ReminderBot()
    bot.later(6 * 60)  # 15:00 UTC, 22:00 in Bangkok
    bot.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    bot.says("my-officer", "/alert to:TH tlp:amber priority:urgent Boat sighted again")
    bot.worker_sends()
    bot.service.reconcile(bot.clock.now())
    bot.tick(45)
    bot.tick(15)  # 23:01 in Bangkok: the urgent acknowledgement is due; both reminders went in the night
    assert [m.key for m in bot.reminders("th-npoc")] == ["rem:A-2026-0002:th-npoc:ack-before:0",
                                                         "rem:A-2026-0002:th-npoc:ack-due:0"]
    bot.tick(24 * 60 - 60)  # the routine acknowledgement falls due at 22:01 Bangkok time: held
    assert "rem:A-2026-0001:th-npoc:ack-due:0" not in bot.store.outbox
    bot.clock.set(bot.clock.now().replace(hour=23, minute=59))  # 06:59 in Bangkok
    bot.tick()
    assert "rem:A-2026-0001:th-npoc:ack-due:0" not in bot.store.outbox
    bot.tick(1)  # 07:00 in Bangkok: it goes, once, the 'before' reminder held with it superseded
    assert [m.key for m in bot.reminders("th-npoc") if "A-2026-0001" in m.key] == ["rem:A-2026-0001:th-npoc:ack-due:0"]


def test_the_daily_digest_goes_to_the_coordinators_room_once_and_lists_no_red_item_there() -> None:
    bot = ReminderBot()
    bot.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Source in the crew")
    bot.worker_sends()
    bot.later(3 * 24 * 60)
    day = bot.clock.now().date()
    assert bot.service.digest(bot.clock.now(), day)
    assert not bot.service.digest(bot.clock.now(), day)  # the job fired twice: one post, one audit entry
    [digest] = bot.store.messages_to("chat:console:#coordination")
    assert "A-2026-0001 TLP:AMBER · Th Npoc (Thailand) owes feedback" not in digest.text  # 7 days for routine
    assert "A-2026-0001 TLP:AMBER · Th Npoc (Thailand) owes acknowledgement" in digest.text
    assert "A-2026-0002" not in digest.text and "1 more under TLP:AMBER+STRICT or TLP:RED" in digest.text
    assert [e.detail.get("kind") for e in bot.store.audit].count("digest") == 1


def test_the_monthly_bulletin_counts_everything_and_carries_only_clear_and_green_content() -> None:
    bot = ReminderBot()
    bot.says("my-officer", "/alert to:TH tlp:green topic:maritime Boat seen off Songkhla")
    bot.says("my-officer", "/alert to:TH tlp:green orcon topic:maritime Controlled green text")
    bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud Amber text")
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Red text")
    bot.says("th-npoc", "/alert to:MY tlp:clear topic:maritime Clear text")
    assert bot.service.bulletin(bot.clock.now(), bot.clock.now().date().replace(day=1))
    assert not bot.service.bulletin(bot.clock.now(), bot.clock.now().date().replace(day=1))
    [bulletin] = bot.store.messages_to("chat:console:#network")
    text = bulletin.text
    assert text.splitlines()[0] == "[TLP:GREEN] Monthly bulletin · November 2026"
    assert "Items shared: 5 (5 alerts, 0 requests)." in text
    assert "  maritime: 3" in text and "  MY → TH: 4" in text and "  TH → MY: 1" in text
    assert "Boat seen off Songkhla" in text and "Clear text" in text
    assert "Controlled green text" not in text and "Amber text" not in text and "Red text" not in text
    disclosed = [e.reference for e in bot.store.audit if e.detail.get("kind") == "bulletin" and e.reference]
    assert disclosed == ["A-2026-0001", "A-2026-0005"]


def test_a_round_that_fails_leaves_nothing_behind(bot: ReminderBot, monkeypatch: pytest.MonkeyPatch) -> None:
    bot.later(70)

    def broken(self, event) -> None:  # noqa: ANN001 - the audit log fails half-way through a round
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("tests.fakes._Audit.record", broken)
    before = (dict(bot.store.outbox), dict(bot.store.reminder_log))
    with pytest.raises(RuntimeError):
        bot.tick()
    assert (bot.store.outbox, bot.store.reminder_log) == before
    monkeypatch.undo()
    assert bot.tick().sent > 0  # and the next round sends them
