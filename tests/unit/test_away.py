"""/away and /back on in-memory fakes with a manual clock: who stands in, what passes to them, what
never does (TLP:RED), acting for someone, the summary when back; and the backup at escalation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from alerts.audit import AuditAction
from alerts.away import Absence
from alerts.identity import ChatRef
from alerts.messages import MessageKind
from alerts.reminder_policy import ReminderPolicy
from handlers.followup_reminders import ReminderService
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_followup_harness import Bot

AWAY = "/away until:2026-11-24 backup:@th-immigration on leave"  # the clock starts 23 Nov 16:00 in Bangkok
REF, RED = "A-2026-0001", "A-2026-0002"


class AwayBot(Bot):
    def __init__(self) -> None:
        super().__init__()
        self.service = ReminderService(lambda: MemoryUnitOfWork(self.store), self.directory_source,
                                       ReminderPolicy(), digest_room=ChatRef.parse("console:#network"))

    def tick(self, minutes: int = 0) -> None:
        self.later(minutes)
        self.service.tick(self.clock.now())


@pytest.fixture
def bot() -> AwayBot:
    bot = AwayBot()
    assert "away until 24 Nov 2026" in bot.answer("th-npoc", AWAY)
    return bot


def test_away_alone_shows_the_setting_and_off_ends_it(bot: AwayBot) -> None:
    shown = bot.answer("th-npoc", "/away")
    assert "away until 24 Nov 2026 (inclusive)" in shown and "Th Immigration" in shown and "on leave" in shown
    assert bot.says("th-npoc", "/away off")[0].startswith("Welcome back")
    assert "Th Npoc (Thailand) is back: you no longer stand in for them." in bot.last_to("th-immigration")
    assert "not set away" in bot.answer("th-npoc", "/away")
    events = [e.detail["event"] for e in bot.store.audit if e.action is AuditAction.AWAY]
    assert events == ["set", "ended", "summary"]


def test_the_delegate_is_told_they_stand_in(bot: AwayBot) -> None:
    assert "You stand in for Th Npoc (Thailand), who is away until 24 Nov 2026" in bot.last_to("th-immigration")


@pytest.mark.parametrize("command, wrong", [
    ("/away until:2026-11-22 backup:@th-immigration", "is in the past"),
    ("/away until:2027-12-24 backup:@th-immigration", "more than 366 days ahead"),
    ("/away until:2026-12-24 backup:@nobody", "No contact 'nobody'"),
    ("/away until:2026-12-24 backup:@th-npoc", "cannot stand in for themselves"),
    ("/away until:2026-12-24 backup:@my-npoc", "may not receive"),
    ("/away until:24/12 backup:@th-immigration", "is not a date"),
    ("/away until:2026-12-24", "needs both until: (your last day away) and backup:"),
    ("/away @th-deputy until:2026-12-24 backup:@th-immigration", "Only coordinators set someone else away"),
])
def test_what_cannot_be_set_is_refused_with_what_is_accepted_and_an_example(command: str, wrong: str) -> None:
    bot = AwayBot()
    answer = bot.answer("th-npoc", command)
    assert wrong in answer and "Example: /away until:" in answer, answer
    assert "not set away" in bot.answer("th-npoc", "/away")


def test_a_date_is_the_persons_own_day() -> None:
    bot = AwayBot()
    bot.clock.advance(timedelta(hours=8))  # 23 Nov 17:00 UTC: already 24 Nov in Bangkok
    assert "is in the past" in bot.answer("th-npoc", "/away until:2026-11-23 backup:@th-immigration")
    assert "away until 24 Nov 2026" in bot.answer("th-npoc", "/away until:2026-11-24 backup:@th-immigration")
    with MemoryUnitOfWork(bot.store) as uow:
        absence = uow.absences.current("th-npoc", bot.clock.now())
    assert absence is not None and absence.until == datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)


def test_a_coordinator_sets_someone_away_and_they_are_told() -> None:
    bot = AwayBot()
    assert "Th Npoc (Thailand) is away until" in bot.answer("rso-coord", AWAY.replace("/away", "/away @th-npoc"))
    assert "set you away until 24 Nov 2026" in bot.last_to("th-npoc")


def test_a_delivery_goes_to_the_delegate_who_acts_for_the_person(bot: AwayBot) -> None:
    [receipt] = bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat sighted")
    assert "Th Npoc (Thailand) is away until 24 Nov 2026; it goes to Th Immigration" in receipt
    [delivery] = [m for m in bot.messages_to("th-immigration") if m.kind is MessageKind.DELIVERY]
    assert delivery.text.startswith("For Th Npoc (Thailand), who is away until 24 Nov 2026:\n[TLP:AMBER]")
    assert "Boat sighted" in delivery.text and delivery.contact == "th-immigration"
    assert not [m for m in bot.messages_to("th-npoc") if m.kind is MessageKind.DELIVERY]
    bot.worker_sends()
    assert bot.answer("th-immigration", f"/ack {REF}").startswith(f"Acknowledged {REF} for Th Npoc (Thailand)")
    assert f"{REF}: acknowledged by Th Immigration (Thailand immigration) for Th Npoc (Thailand)" in bot.last_to("my-officer")
    assert bot.record(REF).delivery_to("th-npoc").state == "acknowledged"  # type: ignore[union-attr]
    ack = next(e for e in reversed(bot.store.audit) if e.action is AuditAction.ACKNOWLEDGEMENT)
    assert (ack.actor, ack.detail["on_behalf_of"], ack.detail["as"]) == ("th-immigration", "th-npoc", "delegate")
    bot.says("th-immigration", f"/reply {REF} Seen, checking the port")
    assert "Feedback from Th Immigration (Thailand immigration) for Th Npoc (Thailand)" in bot.last_to("my-officer")
    feedback = next(e for e in reversed(bot.store.audit) if e.action is AuditAction.FEEDBACK)
    assert (feedback.actor, feedback.detail["on_behalf_of"], feedback.detail["as"]) == (
        "th-immigration", "th-npoc", "delegate")
    bot.says("my-officer", f"/reply {REF} The boat left at dawn")  # the originator's update
    update = bot.last_to("th-immigration")
    assert update.startswith("For Th Npoc (Thailand), who is away") and "The boat left at dawn" in update


def test_the_delegates_mine_lists_what_they_stand_in_for_but_not_red(bot: AwayBot) -> None:
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat sighted")
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Named source")
    bot.worker_sends()
    mine = bot.answer("th-immigration", "/mine")
    assert f"{REF} TLP:AMBER · from My Officer (MY) · to acknowledge" in mine and "for Th Npoc (Thailand)" in mine
    assert RED not in mine
    bot.says("th-npoc", "/back")
    assert REF not in bot.answer("th-immigration", "/mine")


def test_someone_not_standing_in_may_not_act(bot: AwayBot) -> None:
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat sighted")
    assert "Only recipients" in bot.answer("th-deputy", f"/ack {REF}")
    bot.says("th-npoc", "/back")
    assert "Only recipients" in bot.answer("th-immigration", f"/ack {REF}")  # no longer standing in


def test_a_red_item_is_not_passed_to_the_delegate_and_waits(bot: AwayBot) -> None:
    [receipt] = bot.says("my-officer", "/alert to:@th-npoc tlp:red Named source")
    assert "TLP:RED is for named people only, so it waits for them" in receipt
    assert not any("Named source" in text for text in bot.received_by("th-immigration"))
    assert any("Named source" in text for text in bot.received_by("th-npoc"))
    bot.worker_sends()
    refused = f"{REF} is TLP:RED: it is for named people only, so it waits for Th Npoc (Thailand)"
    assert refused in bot.answer("th-immigration", f"/ack {REF}")
    assert refused in bot.answer("th-immigration", f"/reply {REF} seen")
    assert bot.record(REF).delivery_to("th-npoc").state == "sent"  # type: ignore[union-attr]


def test_a_coordinator_ends_someone_elses_absence(bot: AwayBot) -> None:
    assert "Only coordinators" in bot.answer("th-deputy", "/away @th-npoc off")
    # /back is one's own; written with a person, the answer says how to end their absence instead
    assert bot.answer("rso-coord", "/back @th-npoc") == (
        "Unexpected '@th-npoc': /back takes nothing. Example: /back. To end someone else's absence "
        "(coordinators): /away @th-npoc off.")
    assert bot.answer("th-npoc", "/back now").endswith("/back takes nothing. Example: /back.")
    assert "away until 24 Nov 2026" in bot.answer("th-npoc", "/away")
    assert "Welcome back, noted for Th Npoc" in bot.answer("rso-coord", "/away @th-npoc off")
    assert "not set away" in bot.answer("th-npoc", "/away")


def test_reminders_go_to_the_delegate_but_not_for_red(bot: AwayBot) -> None:
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.says("my-officer", "/alert to:@th-npoc tlp:red priority:urgent Named source")
    bot.worker_sends()
    for _ in range(12):
        bot.tick(10)
    reminders = [m for m in bot.store.outbox.values() if m.kind is MessageKind.REMINDER]
    to_delegate = [m for m in reminders if m.contact == "th-immigration"]
    assert to_delegate and all(m.reference == REF for m in to_delegate)
    assert all(m.text.startswith("For Th Npoc (Thailand), who is away") for m in to_delegate)
    assert {m.reference for m in reminders if m.contact == "th-npoc"} == {RED}



def test_a_reminder_to_the_delegate_offers_only_what_the_delegate_may_do(bot: AwayBot) -> None:
    """/snooze holds a recipient's own reminders; a delegate is refused it, so their reminder does not
    offer it. What it does offer (acknowledging, answering for the person) works."""
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.worker_sends()
    for _ in range(12):
        bot.tick(10)
    to_delegate = [m.text for m in bot.store.outbox.values()
                   if m.kind is MessageKind.REMINDER and m.contact == "th-immigration"]
    assert to_delegate
    assert not any("/snooze" in text for text in to_delegate), to_delegate[-1]
    assert "Only recipients" in bot.answer("th-immigration", f"/snooze {REF} 4h checking")
    assert all(f"/ack {REF}" in text or f"/reply {REF}" in text for text in to_delegate)
    assert bot.answer("th-immigration", f"/ack {REF}").startswith(f"Acknowledged {REF} for Th Npoc")


def test_escalations_about_someone_away_say_so_and_who_stands_in(bot: AwayBot) -> None:
    """"Please check with Th Npoc" sends their backup to someone on leave; the coordinators too are
    better told who has had the reminders meanwhile. A RED item was not passed on: it waits."""
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.says("my-officer", "/alert to:@th-npoc tlp:red priority:urgent Named source")
    bot.worker_sends()
    for _ in range(15):
        bot.tick(10)
    escalations = [m for m in bot.store.outbox.values() if m.kind is MessageKind.ESCALATION]
    to_backup = [m.text for m in escalations if m.contact == "th-deputy"]
    to_coordinator = {m.reference: m.text for m in escalations if m.contact == "rso-coord"}
    assert len(to_backup) == 1 and set(to_coordinator) == {REF, RED}
    passed = ("Th Npoc (Thailand) is away until 24 Nov 2026; Th Immigration (Thailand immigration) stands in for them "
              "and has had their reminders.")
    assert passed in to_backup[0].splitlines(), to_backup[0]
    assert passed in to_coordinator[REF].splitlines(), to_coordinator[REF]
    assert ("Th Npoc (Thailand) is away until 24 Nov 2026; TLP:RED is for named people only, so it waits for them."
            in to_coordinator[RED].splitlines()), to_coordinator[RED]

def test_back_the_person_gets_one_summary_of_what_arrived(bot: AwayBot) -> None:
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat sighted")
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Named source")
    bot.worker_sends()
    bot.says("th-immigration", f"/ack {REF}")
    bot.says("th-immigration", f"/reply {REF} Seen")
    bot.clock.advance(timedelta(days=2))  # the date passed: the scheduler's round tells them
    bot.tick()
    bot.tick(5)  # and not twice
    [summary] = [m for m in bot.messages_to("th-npoc") if m.key.startswith("away-back:")]
    assert "Th Immigration (Thailand immigration) stood in for you" in summary.text
    assert f"{REF} [TLP:AMBER] from My Officer (Malaysia): answered" in summary.text
    assert f"{RED} [TLP:RED] from My Officer (Malaysia): waiting for you (TLP:RED is not passed on)" in summary.text
    assert f"What Th Immigration (Thailand immigration) did for you: acknowledged {REF}; replied to {REF}." \
        in summary.text
    assert sum(e.detail.get("event") == "summary" for e in bot.store.audit) == 1
    assert "not set away" in bot.answer("th-npoc", "/away")


def test_the_backup_receives_the_item_at_escalation_and_may_act_on_it() -> None:
    bot = AwayBot()  # th-npoc's backup in the directory is th-deputy; nobody is away
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.worker_sends()
    assert "Only recipients" in bot.answer("th-deputy", f"/ack {REF}")  # not before escalation reaches them
    for _ in range(30):
        bot.tick(10)
    [escalation] = [m for m in bot.messages_to("th-deputy") if m.kind is MessageKind.ESCALATION]
    assert "Please check with Th Npoc (Thailand)" in escalation.text and "you are their backup" in escalation.text and "Boat sighted" in escalation.text
    assert f"/ack {REF}" in escalation.text
    assert bot.answer("th-deputy", f"/ack {REF}").startswith(f"Acknowledged {REF} for Th Npoc (Thailand)")
    ack = next(e for e in reversed(bot.store.audit) if e.action is AuditAction.ACKNOWLEDGEMENT)
    assert ack.detail["as"] == "backup"


def test_a_red_item_is_never_escalated_to_a_backup() -> None:
    bot = AwayBot()
    bot.says("my-officer", "/alert to:@th-npoc tlp:red priority:urgent Named source")
    bot.worker_sends()
    for _ in range(30):
        bot.tick(10)
    assert not any("Named source" in text for text in bot.received_by("th-deputy"))
    assert not [m for m in bot.messages_to("th-deputy") if m.kind is MessageKind.ESCALATION]
    assert [m for m in bot.messages_to("rso-coord") if m.kind is MessageKind.ESCALATION]  # it did escalate


def test_an_item_from_the_delegate_stays_with_the_person(bot: AwayBot) -> None:
    [receipt] = bot.says("th-immigration", "/alert to:@th-npoc tlp:amber Boat sighted")
    assert "away" not in receipt
    assert [m.contact for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY] == ["th-npoc"]


# --- what a delegate may see: the copies sent to them ---------------------------------------------

def test_the_delegate_sees_what_they_were_sent_as_its_recipient_does_and_still_once_the_person_is_back(
        bot: AwayBot) -> None:
    bot.says("my-officer", "/alert to:TH,MY tlp:amber topic:maritime Boat sighted off Satun")
    bot.worker_sends()
    bot.says("th-immigration", f"/reply {REF} Seen, checking the port")
    bot.says("my-npoc", f"/reply {REF} Malaysian side: nothing")
    bot.says("my-officer", f"/reply {REF} The boat left at dawn")
    for when in ("away", "back"):
        status = bot.answer("th-immigration", f"/status {REF}")
        # The line of the copy they held, named by its recipient; never another recipient's.
        assert status.startswith(f"{REF} · TLP:AMBER") and "Th Npoc (Thailand): sent" in status, when
        assert "My Npoc" not in status and "Acknowledged 1 of" not in status, when
        assert bot.store.audit[-1].detail == {"command": "status", "view": "own delivery"}
        assert _refs(bot.answer("th-immigration", "/find boat")) == [REF], when
        assert _refs(bot.answer("th-immigration", "/mine all")) == [REF], when
        history = bot.answer("th-immigration", f"/history {REF}")
        assert ("delivered to Th Npoc (Thailand) (given to Th Immigration (Thailand immigration), standing in)"
                in history), when
        assert ("feedback from Th Immigration (Thailand immigration) for Th Npoc (Thailand): Seen, checking the port"
                in history), when
        assert "update from My Officer (Malaysia): The boat left at dawn" in history, when
        assert "Malaysian side" not in history and "My Npoc" not in history, when
        bot.says("th-npoc", "/back")  # they held it: they keep seeing it
    # The originator's history says where the copy went.
    assert "delivered to Th Npoc (Thailand) (given to Th Immigration (Thailand immigration), standing in)" in \
        bot.answer("my-officer", f"/history {REF}")


def test_a_delegate_sees_nothing_of_what_was_not_sent_to_them() -> None:
    bot = AwayBot()
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat one, before the absence")
    bot.worker_sends()
    bot.answer("th-npoc", AWAY)
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Boat two, named source")  # RED is not passed on
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat three")
    bot.worker_sends()
    refused = "Only the originator, recipients, coordinators and auditors can see"
    for reference in (REF, RED):
        assert bot.answer("th-immigration", f"/status {reference}").startswith(refused)
        assert bot.answer("th-immigration", f"/history {reference}").startswith(refused)
    assert _refs(bot.answer("th-immigration", "/find boat")) == ["A-2026-0003"]
    assert _refs(bot.answer("th-immigration", "/mine all")) == ["A-2026-0003"]
    # They may act on the item from before the absence, and still not see it: seeing follows the copy.
    assert bot.answer("th-immigration", f"/ack {REF}").startswith(f"Acknowledged {REF} for Th Npoc (Thailand)")
    assert bot.answer("th-immigration", f"/status {REF}").startswith(refused)
    # Someone else in the organisation, not standing in, sees none of them.
    assert bot.answer("th-deputy", "/find boat") == "Nothing found among the items you may see."
    assert bot.answer("th-deputy", "/status A-2026-0003").startswith(refused)


def _refs(answer: str) -> list[str]:
    return re.findall(r"^([AR]-\d{4}-\d{4})", answer, re.MULTILINE)


def test_a_backup_given_the_item_by_escalation_may_act_on_it_but_is_not_given_sight_of_it() -> None:
    # Their copy is a reminder, not the item's delivery: seeing follows the delivered copy.
    bot = AwayBot()
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.worker_sends()
    for _ in range(30):
        bot.tick(10)
    assert [m for m in bot.messages_to("th-deputy") if m.kind is MessageKind.ESCALATION]
    assert bot.answer("th-deputy", f"/reply {REF} Checked with the harbour").startswith(
        f"Your feedback on {REF} for Th Npoc (Thailand) goes to")
    refused = "Only the originator, recipients, coordinators and auditors can see"
    assert bot.answer("th-deputy", f"/status {REF}").startswith(refused)
    assert bot.answer("th-deputy", f"/history {REF}").startswith(refused)
    assert bot.answer("th-deputy", "/find boat") == "Nothing found among the items you may see."
    assert _refs(bot.answer("th-deputy", "/mine all")) == []


def _held_copy(bot: AwayBot) -> str:
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat sighted")
    bot.worker_sends()
    return f"direct:{bot.directory.contacts['th-immigration'].identities[0]}"


# The copy went to th-immigration's chat: an edit or a removal aimed at th-npoc's chat would miss it
# (on Telegram, hit another message there) and leave it as it was, with the delegate never told.
def test_a_copy_the_delegate_holds_is_marked_superseded_in_the_delegates_chat(bot: AwayBot) -> None:
    held = _held_copy(bot)
    bot.says("my-officer", f"/correct {REF} Two boats sighted")
    [edit] = [m for m in bot.store.outbox.values() if m.kind is MessageKind.SUPERSEDE]
    assert (str(edit.destination), edit.contact) == (held, "th-immigration")


def test_a_copy_the_delegate_holds_is_taken_back_from_the_delegates_chat(bot: AwayBot) -> None:
    held = _held_copy(bot)
    bot.says("my-officer", f"/withdraw {REF} wrong boat")
    [removal] = [m for m in bot.store.outbox.values() if m.kind is MessageKind.REMOVAL]
    assert str(removal.destination) == held
    [told] = [m for m in bot.store.outbox.values() if m.kind is MessageKind.NOTICE and "withdrawn" in m.text]
    assert (str(told.destination), told.contact) == (held, "th-immigration")


def test_a_correction_goes_to_the_delegate_while_the_person_is_away_but_red_waits_for_them(bot: AwayBot) -> None:
    _held_copy(bot)
    [receipt] = bot.says("my-officer", f"/correct {REF} Two boats sighted")
    assert receipt.endswith("Th Npoc (Thailand) is away until 24 Nov 2026; it goes to Th Immigration "
                            "(Thailand immigration), who stands in.")
    revised = [m for m in bot.messages_to("th-immigration") if m.kind is MessageKind.DELIVERY][-1]
    assert revised.text.startswith("For Th Npoc (Thailand), who is away") and "Two boats sighted" in revised.text
    assert not [m for m in bot.messages_to("th-npoc") if m.kind is MessageKind.DELIVERY]
    bot.worker_sends()
    bot.says("my-officer", f"/correct {REF} tlp:red The informant names the boat")  # no release policy here
    red = [m for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY and "names the boat" in m.text]
    assert [str(m.destination) for m in red] == ["direct:console:th-npoc"]  # TLP:RED is never passed on


def test_a_backup_who_would_close_a_circle_is_refused_naming_it(bot: AwayBot) -> None:
    # th-npoc is away with th-immigration standing in: th-immigration naming th-npoc would send their
    # items round in a circle, to nobody who is here.
    answer = bot.answer("th-immigration", "/away until:2026-11-24 backup:@th-npoc")
    assert answer == ("backup:@th-npoc would close a circle: Th Immigration → Th Npoc → Th Immigration, so your "
                      "items would reach nobody who is here. Name a backup who is here (not away). "
                      "Example: /away until:2026-12-24 backup:@th-immigration on leave")
    assert "not set away" in bot.answer("th-immigration", "/away")
    refusal = bot.store.audit[-2]
    assert refusal.action is AuditAction.REFUSAL and "circle" in refusal.detail["reason"]


def test_a_longer_circle_is_refused_too_and_a_coordinator_is_told_it_for_the_person(bot: AwayBot) -> None:
    # th-npoc → th-immigration; th-immigration goes away later naming th-deputy, who was here.
    assert "away until" in bot.answer("th-immigration", "/away until:2026-11-24 backup:@th-deputy")
    answer = bot.answer("rso-coord", "/away @th-deputy until:2026-11-24 backup:@th-npoc")
    assert answer.startswith("backup:@th-npoc would close a circle: Th Deputy → Th Npoc → Th Immigration → "
                             "Th Deputy, so their items would reach nobody who is here.")
    assert "Example: /away until:" in answer
    assert "not set away" in bot.answer("th-deputy", "/away")


def test_someone_away_themselves_cannot_be_named_to_stand_in(bot: AwayBot) -> None:
    answer = bot.answer("th-deputy", "/away until:2026-11-24 backup:@th-npoc")  # no circle: th-npoc names another
    assert answer == ("Th Npoc (Thailand) is away themselves until 24 Nov 2026: name someone who is here to stand "
                      "in. Example: /away until:2026-12-24 backup:@th-immigration on leave")


# --- a delegate who goes away later themselves ----------------------------------------------------

CHAINED = "For Th Npoc (Thailand), who is away until 24 Nov 2026 (Th Immigration (Thailand immigration), who " \
          "stands in for them, is away too until 24 Nov 2026):"


@pytest.fixture
def chained(bot: AwayBot) -> AwayBot:
    """th-npoc away naming th-immigration, who goes away later naming th-deputy."""
    bot.later(30)
    answer = bot.answer("th-immigration", "/away until:2026-11-24 backup:@th-deputy")
    assert answer.endswith("Items for Th Npoc (Thailand), whom you stand in for, go on to Th Deputy (Thailand) "
                           "meanwhile."), answer
    assert bot.last_to("th-deputy").endswith("Through them you also stand in for Th Npoc (Thailand), who is away "
                                             "too.")
    return bot


def test_items_follow_the_chain_to_the_first_person_who_is_here(chained: AwayBot) -> None:
    bot = chained
    [receipt] = bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat sighted")
    assert receipt.endswith("Th Npoc (Thailand) is away until 24 Nov 2026; it goes to Th Deputy (Thailand), who "
                            "stands in (Th Immigration (Thailand immigration), who stands in for them, is away too "
                            "until 24 Nov 2026).")
    [delivery] = [m for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY]
    assert delivery.contact == "th-deputy" and delivery.text.startswith(CHAINED + "\n[TLP:AMBER]")
    bot.worker_sends()
    assert f"{REF} TLP:AMBER" in bot.answer("th-deputy", "/mine") and "for Th Npoc (Thailand)" in bot.answer(
        "th-deputy", "/mine")
    assert bot.answer("th-deputy", f"/ack {REF}").startswith(f"Acknowledged {REF} for Th Npoc (Thailand)")
    with MemoryUnitOfWork(bot.store) as uow:
        absence = uow.absences.current("th-npoc", bot.clock.now())
    assert absence is not None and absence.acts == (f"acknowledged {REF} (by Th Deputy (Thailand))",)


def test_a_red_item_still_waits_for_the_person_when_the_chain_is_followed(chained: AwayBot) -> None:
    [receipt] = chained.says("my-officer", "/alert to:@th-npoc tlp:red Named source")
    assert "TLP:RED is for named people only, so it waits for them" in receipt
    assert [m.contact for m in chained.store.outbox.values() if m.kind is MessageKind.DELIVERY] == ["th-npoc"]
    chained.worker_sends()
    assert "you cannot act on it for them" in chained.answer("th-deputy", f"/ack {REF}")


def test_reminders_follow_the_chain_too(bot: AwayBot) -> None:
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.worker_sends()
    # The delegate goes away after being given the item: its reminders go on to whom they named.
    bot.answer("th-immigration", "/away until:2026-11-24 backup:@th-deputy")
    for _ in range(12):
        bot.tick(10)
    reminders = [m for m in bot.store.outbox.values() if m.kind is MessageKind.REMINDER]
    assert reminders and {m.contact for m in reminders} == {"th-deputy"}
    assert all(m.text.startswith(CHAINED) for m in reminders)
    # th-deputy was given no copy, yet may act for th-npoc: they are on the chain.
    assert bot.answer("th-deputy", f"/ack {REF}").startswith(f"Acknowledged {REF} for Th Npoc (Thailand)")


def test_back_the_person_is_told_their_delegate_was_away_too(chained: AwayBot) -> None:
    bot = chained
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber Boat sighted")
    bot.worker_sends()
    bot.says("th-deputy", f"/ack {REF}")
    bot.later(60)
    bot.says("th-immigration", "/back")
    bot.later(60)
    bot.says("th-npoc", "/back")
    [summary] = [m for m in bot.messages_to("th-npoc") if m.key.startswith("away-back:")]
    assert "Th Immigration (Thailand immigration) stood in for you." in summary.text
    # From when th-immigration went away to when they were back, on th-npoc's clock.
    assert re.search(r"\nTh Immigration \(Thailand immigration\) was away too from 23 Nov 16:3\d to 23 Nov 17:3\d; "
                     r"Th Deputy \(Thailand\) stood in for you both then\.\n", summary.text), summary.text
    assert f"{REF} [TLP:AMBER] from My Officer (Malaysia): acknowledged" in summary.text
    assert "(given to Th Deputy (Thailand))" in summary.text
    assert f"Done for you: acknowledged {REF} (by Th Deputy (Thailand))." in summary.text


# --- a circle stored however it came about: nothing loops, the copy waits and is escalated ------------

def test_a_stored_circle_leaves_the_copy_with_the_person_and_escalates_it() -> None:
    bot = AwayBot()
    now = bot.clock.now()
    until = now + timedelta(days=1)
    with MemoryUnitOfWork(bot.store) as uow:  # as no /away would let it be: each names the other
        uow.absences.add(Absence("c1", "th-npoc", "th-immigration", until, "", "th-npoc", now))
        uow.absences.add(Absence("c2", "th-immigration", "th-npoc", until, "", "th-immigration", now))
        uow.commit()
    [receipt] = bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    assert receipt.endswith("Th Npoc (Thailand) is away until 24 Nov 2026; nobody standing in for them is here "
                            "(Th Npoc → Th Immigration → Th Npoc), so it waits for them.")
    copies = [m.contact for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY]
    assert "th-npoc" in copies and "th-immigration" not in copies  # (urgent: the coordinators have theirs)
    bot.worker_sends()
    for _ in range(30):
        bot.tick(10)
    reminders = [m for m in bot.store.outbox.values() if m.kind is MessageKind.REMINDER]
    assert reminders and {m.contact for m in reminders} == {"th-npoc"}
    escalated = {m.contact for m in bot.store.outbox.values() if m.kind is MessageKind.ESCALATION}
    assert {"th-deputy", "rso-coord"} <= escalated  # the backup and the coordinators: people who are here
