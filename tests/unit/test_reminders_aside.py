"""Reminders and escalations for someone the bot cannot reach (every account of theirs is on a
platform it does not run): nothing is queued for that platform, where it would wait forever. A
backup who cannot be reached is passed over as one nobody can stand in for: the coordinators are
told at the backup's step, once, with one line saying why. The plan (pure), then the rounds on
the fakes with a manual clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from alerts.caveats import Caveat, Tlp
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.identity import Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.reminder_policy import ReminderPolicy
from alerts.reminders import Stage, plan_item
from alerts.roles import Role
from handlers.answer_place import messages_about
from handlers.followup_reminders import ReminderService
from handlers.post_item import PostingPolicy
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import person, small_network
from tests.unit.test_followup_harness import Bot
from tests.unit.test_reminder_policy import POLICY, T0, item

CONSOLE_ONLY = frozenset({Platform.CONSOLE})


def network(deputy: tuple[str, ...] = ("matrix:@th-deputy:example.org",)) -> Directory:
    """small_network, th-npoc's backup th-deputy with only the accounts `deputy`."""
    base = small_network()
    contacts = [c if c.id != "th-deputy" else person("th-deputy", "TH", Role.OFFICER, tz="Asia/Bangkok",
                                                      identities=deputy)
                for c in base.contacts.values()]
    return Directory.build(base.organisations.values(), contacts, base.rooms, base.arrangements)


def escalations(platforms: frozenset[Platform] | None, directory: Directory) -> list[tuple[timedelta, str, str]]:
    """Every escalation sent minute by minute over three hours (as tests/unit/test_escalation_away)."""
    follow, found, now = item(), [], T0
    while now <= T0 + timedelta(hours=3):
        plan = plan_item(follow, now, POLICY, directory, platforms=platforms)
        found += [(now - T0, r.stage.value, r.target) for r in plan.send if r.stage.escalation]
        follow = replace(follow, done=follow.done | {r.key for r in plan.send + plan.superseded})
        now += timedelta(minutes=1)
    return found


def test_a_backup_the_bot_cannot_reach_is_passed_over_and_the_coordinators_told_at_the_backups_step() -> None:
    assert escalations(CONSOLE_ONLY, network()) == [(timedelta(hours=1, minutes=30), "coordinators", "rso-coord")]
    # On a platform the bot runs, the backup is told as before.
    assert escalations(frozenset(Platform), network()) == [
        (timedelta(hours=1, minutes=30), "backup", "th-deputy"), (timedelta(hours=2), "coordinators", "rso-coord")]


def test_nothing_about_an_item_is_queued_for_a_platform_the_bot_does_not_run() -> None:
    directory = network()
    assert messages_about(directory, "th-deputy", Caveat(Tlp.AMBER), "A-2026-0001", "Overdue", lambda: "k",
                          platforms=CONSOLE_ONLY) == []
    # RED may not go over Telegram, and the Matrix account is not run: only the content-free notice goes.
    both = network(("telegram:user:42", "matrix:@th-deputy:example.org"))
    [notice] = messages_about(both, "th-deputy", Caveat(Tlp.RED), "A-2026-0001", "Secret", lambda: "k",
                              platforms=frozenset({Platform.TELEGRAM}))
    assert str(notice.destination) == "direct:telegram:user:42" and "Secret" not in notice.text


class AsideBot(Bot):
    def __init__(self) -> None:
        super().__init__(network(), PostingPolicy(DuePolicy.default(), platforms=CONSOLE_ONLY))
        self.service = ReminderService(lambda: MemoryUnitOfWork(self.store), self.directory_source,
                                       ReminderPolicy(), platforms=CONSOLE_ONLY)

    def escalated(self) -> list[OutboundMessage]:
        return [m for m in self.store.outbox.values() if m.kind is MessageKind.ESCALATION]


def test_the_round_queues_nothing_for_the_backup_and_tells_the_coordinators_once_why() -> None:
    bot = AsideBot()
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.worker_sends()
    start = bot.clock.now()
    while not bot.escalated():
        bot.later(1)
        bot.service.tick(bot.clock.now())
        assert bot.clock.now() < start + timedelta(hours=3)
    assert bot.clock.now() - start < timedelta(hours=1, minutes=45)  # at the backup's step, not an hour later
    for _ in range(18):
        bot.later(10)
        bot.service.tick(bot.clock.now())
    assert all(m.destination.platform is Platform.CONSOLE for m in bot.store.outbox.values())
    [told] = bot.escalated()
    assert told.contact == "rso-coord"
    assert ("Th Npoc (Thailand)'s backup Th Deputy (Thailand) cannot be reached (no account on an enabled "
            "platform), so it comes to the coordinators now.") in told.text.splitlines(), told.text


def test_a_reminder_to_someone_no_longer_reached_is_noted_unreachable_once_and_queued_nowhere() -> None:
    bot = AsideBot()
    bot.says("my-officer", "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted")
    bot.worker_sends()
    # th-npoc's accounts are all on Matrix now, which the bot does not run.
    base = bot.directory
    moved = [c if c.id != "th-npoc" else person("th-npoc", "TH", Role.CONTACT, backup="th-immigration",
                                                 tz="Asia/Bangkok", identities=("matrix:@th:example.org",))
             for c in base.contacts.values()]
    bot.directory_source.directory = Directory.build(base.organisations.values(), moved, base.rooms,
                                                     base.arrangements)
    unreachable = 0
    for _ in range(12):
        bot.later(10)
        unreachable += bot.service.tick(bot.clock.now()).unreachable
    assert unreachable >= 1
    assert all(m.destination.platform is Platform.CONSOLE for m in bot.store.outbox.values())
    assert [m.contact for m in bot.escalated() if "backup" in m.text] == ["th-immigration"]
    assert any(f"-{Stage.BACKUP.value}:" in m.key for m in bot.escalated())
