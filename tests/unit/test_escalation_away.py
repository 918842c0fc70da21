"""Escalation to a backup who is away: it goes along the backup's chain of stand-ins to the first
person who is here (alerts.away.follow), never TLP:RED; when nobody on it can take it, the
coordinators are told at once, at the backup's step, rather than waiting for their own. Planned
again from the state at each round: an acknowledgement or a return meanwhile counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from alerts.audit import AuditAction
from alerts.away import Absence
from alerts.caveats import Tlp
from alerts.messages import MessageKind, OutboundMessage
from alerts.reminders import FollowUp, Reminder, Stage, plan_item
from alerts.directory import Directory
from alerts.roles import Role
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import person
from tests.unit.test_away import REF, AwayBot
from tests.unit.test_reminder_policy import NETWORK, POLICY, T0, item

UNTIL = T0 + timedelta(days=2)
# The sample network, and a police desk in Thailand: a chain of three stand-ins.
WIDER = Directory.build(NETWORK.organisations.values(), (*NETWORK.contacts.values(), person(
    "th-police", "TH", Role.CONTACT, desk="police", tz="Asia/Bangkok")), NETWORK.rooms)


def absent(*absences: Absence) -> dict[str, Absence]:
    return {a.person: a for a in absences}


def away(person: str, delegate: str) -> Absence:
    return Absence(f"away-{person}", person, delegate, UNTIL, "", person, T0 - timedelta(hours=1))


def run(follow: FollowUp, until: datetime, absences: dict[str, Absence],
        directory: Directory = NETWORK) -> list[tuple[timedelta, Reminder]]:
    """Every reminder sent, minute by minute, noting each as done (as tests/unit/test_reminder_policy)."""
    found: list[tuple[timedelta, Reminder]] = []
    now = T0
    while now <= until:
        plan = plan_item(follow, now, POLICY, directory, absences.get)
        found += [(now - T0, r) for r in plan.send]
        follow = replace(follow, done=follow.done | {r.key for r in plan.send + plan.superseded})
        now += timedelta(minutes=1)
    return found


def escalations(timeline: list[tuple[timedelta, Reminder]]) -> list[tuple[timedelta, str, str, str | None]]:
    return [(at, r.stage.value, r.target, r.via) for at, r in timeline if r.stage.escalation]


# --- the plan (pure) ----------------------------------------------------------------------------------

def test_a_backup_who_is_away_is_stood_in_for_by_the_first_person_here_on_their_chain() -> None:
    # th-npoc's backup is th-deputy, away naming th-police (away too) who names th-immigration.
    absences = absent(away("th-deputy", "th-police"), away("th-police", "th-immigration"))
    timeline = run(item(), T0 + timedelta(hours=3), absences, WIDER)
    assert escalations(timeline) == [
        (timedelta(hours=1, minutes=30), "backup", "th-deputy", "th-immigration"),
        (timedelta(hours=2), "coordinators", "rso-coord", None),
    ]
    [backup] = [r for _, r in timeline if r.stage is Stage.BACKUP]
    # The key stays the backup's: sent once, whoever stands in when it fires.
    assert backup.key == "rem:A-2026-0001:th-npoc:ack-backup:0:th-deputy" and backup.to == "th-immigration"
    assert backup.passed is not None and [a.person for a in backup.passed.absences] == ["th-deputy", "th-police"]


def test_when_nobody_on_the_backups_chain_is_here_the_coordinators_are_told_at_the_backups_step() -> None:
    circle = absent(away("th-deputy", "th-immigration"), away("th-immigration", "th-deputy"))
    timeline = run(item(), T0 + timedelta(hours=3), circle)
    assert escalations(timeline) == [(timedelta(hours=1, minutes=30), "coordinators", "rso-coord", None)]
    [(_, early)] = [(at, r) for at, r in timeline if r.stage is Stage.COORDINATORS]
    assert early.passed is not None and early.passed.circle
    assert early.key == "rem:A-2026-0001:th-npoc:ack-coordinators:0:rso-coord"  # once: not again at its own time


def test_a_chain_that_leads_back_to_the_person_who_owes_it_counts_as_nobody() -> None:
    back_to_them = absent(away("th-deputy", "th-npoc"))
    assert escalations(run(item(), T0 + timedelta(hours=3), back_to_them)) == [
        (timedelta(hours=1, minutes=30), "coordinators", "rso-coord", None)]


def test_red_is_never_passed_along_a_backups_chain_and_goes_to_the_coordinators() -> None:
    absences = absent(away("th-deputy", "th-immigration"))
    assert escalations(run(item(tlp=Tlp.RED), T0 + timedelta(hours=3), absences)) == [
        (timedelta(hours=2), "coordinators", "rso-coord", None)]


def test_nobody_away_plans_as_before() -> None:
    assert escalations(run(item(), T0 + timedelta(hours=3), {})) == [
        (timedelta(hours=1, minutes=30), "backup", "th-deputy", None),
        (timedelta(hours=2), "coordinators", "rso-coord", None),
    ]


# --- the rounds, on the fakes with a manual clock -------------------------------------------------------

DEPUTY_AWAY = "/away until:2026-11-24 backup:@th-immigration"  # th-deputy is th-npoc's backup


def escalated_to(bot: AwayBot, contact: str) -> list[OutboundMessage]:
    return [m for m in bot.messages_to(contact) if m.kind is MessageKind.ESCALATION]


def urgent_alert(bot: AwayBot, tlp: str = "amber") -> None:
    bot.says("my-officer", f"/alert to:@th-npoc tlp:{tlp} priority:urgent Boat sighted")
    bot.worker_sends()


def test_escalation_to_an_away_backup_goes_to_their_stand_in_who_may_act() -> None:
    bot = AwayBot()
    assert "away until 24 Nov 2026" in bot.answer("th-deputy", DEPUTY_AWAY)
    urgent_alert(bot)
    for _ in range(12):
        bot.tick(10)
    assert not escalated_to(bot, "th-deputy")
    [escalation] = escalated_to(bot, "th-immigration")
    assert escalation.text.startswith(
        "Th Npoc (Thailand)'s backup Th Deputy (Thailand) is away until 24 Nov 2026; sent to Th Immigration "
        "(Thailand immigration), who stands in for Th Deputy (Thailand).\n"), escalation.text
    assert "Please check with Th Npoc (Thailand)" in escalation.text and "Boat sighted" in escalation.text
    assert f"/ack {REF}" in escalation.text
    audited = next(e for e in bot.store.audit if e.action is AuditAction.ESCALATION and e.detail["stage"] == "ack-backup")
    assert audited.recipients == ("th-immigration",) and audited.detail["for"] == "th-deputy"
    assert bot.answer("th-immigration", f"/ack {REF}").startswith(f"Acknowledged {REF} for Th Npoc (Thailand)")


def test_escalation_with_nobody_here_on_the_backups_chain_goes_straight_to_the_coordinators() -> None:
    bot = AwayBot()
    now = bot.clock.now()
    with MemoryUnitOfWork(bot.store) as uow:  # stored as no /away would let it be: a circle
        uow.absences.add(Absence("c1", "th-deputy", "th-immigration", now + timedelta(days=1), "", "th-deputy", now))
        uow.absences.add(Absence("c2", "th-immigration", "th-deputy", now + timedelta(days=1), "", "th-immigration",
                                 now))
        uow.commit()
    urgent_alert(bot)
    while not escalated_to(bot, "rso-coord"):
        bot.tick(1)
        assert bot.clock.now() < now + timedelta(hours=3)
    [told] = escalated_to(bot, "rso-coord")
    due = datetime.fromisoformat(next(e for e in bot.store.audit if e.action is AuditAction.ESCALATION).detail["due"])
    assert bot.clock.now() - due < timedelta(hours=1)  # the coordinators' own step is an hour after the due time
    assert ("Th Npoc (Thailand)'s backup Th Deputy (Thailand) is away until 24 Nov 2026; nobody standing in for "
            "them can take it (Th Deputy → Th Immigration → Th Deputy), so it comes to the coordinators now."
            in told.text), told.text
    for _ in range(12):
        bot.tick(10)
    assert len(escalated_to(bot, "rso-coord")) == 1  # once
    assert not escalated_to(bot, "th-deputy") and not escalated_to(bot, "th-immigration")


def test_red_is_not_passed_to_an_away_backups_stand_in() -> None:
    bot = AwayBot()
    bot.answer("th-deputy", DEPUTY_AWAY)
    urgent_alert(bot, "red")
    for _ in range(30):
        bot.tick(10)
    assert not escalated_to(bot, "th-immigration") and not escalated_to(bot, "th-deputy")
    assert not any("Boat sighted" in m.text for m in bot.messages_to("th-immigration"))
    assert escalated_to(bot, "rso-coord")


def test_the_state_is_checked_again_when_the_escalation_falls() -> None:
    # Planned while the backup was away; they are back when it falls: it goes to them, as usual.
    bot = AwayBot()
    bot.answer("th-deputy", DEPUTY_AWAY)
    urgent_alert(bot)
    bot.tick(60)  # the due time: planned
    bot.says("th-deputy", "/back")
    for _ in range(6):
        bot.tick(10)
    [escalation] = escalated_to(bot, "th-deputy")
    assert "is away until" not in escalation.text and not escalated_to(bot, "th-immigration")
    # An acknowledgement meanwhile stops what was planned.
    other = AwayBot()
    other.answer("th-deputy", DEPUTY_AWAY)
    urgent_alert(other)
    other.tick(60)
    other.says("th-npoc", f"/ack {REF}")
    for _ in range(12):
        other.tick(10)
    assert not [m for m in other.store.outbox.values() if m.kind is MessageKind.ESCALATION]
