"""The digest and bulletin rooms the configuration names on a platform the bot does not run: what
would go there goes to the admins instead, once, headed by one line saying so; nothing is queued
for the platform not run. On the fakes with a manual clock."""

from __future__ import annotations

from alerts.identity import ChatRef, Platform, UserRef
from alerts.routing import Destination
from alerts.reminder_policy import ReminderPolicy
from handlers.followup_reminders import ReminderService
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import network_with_rooms
from tests.unit.test_followup_harness import Bot

CONSOLE_ONLY = frozenset({Platform.CONSOLE})
ADMIN = Destination.direct(UserRef.parse("console:admin"))


class RoomsBot(Bot):
    def __init__(self, admins: list[tuple[Destination, str | None]]) -> None:
        super().__init__(network_with_rooms())
        self.service = ReminderService(lambda: MemoryUnitOfWork(self.store), self.directory_source, ReminderPolicy(),
                                       digest_room=ChatRef.parse("matrix:!coord:example.org"),
                                       bulletin_room=ChatRef.parse("telegram:-1001234567890"),
                                       platforms=CONSOLE_ONLY, admins=lambda: admins)


def test_the_digest_for_a_room_not_run_goes_to_the_admins_once_saying_so() -> None:
    bot = RoomsBot([(ADMIN, "admin")])
    bot.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    bot.worker_sends()
    bot.later(3 * 24 * 60)
    day = bot.clock.now().date()
    assert bot.service.digest(bot.clock.now(), day)
    assert not bot.service.digest(bot.clock.now(), day)  # the job fired twice: once
    assert not [m for m in bot.store.outbox.values() if m.destination.platform is not Platform.CONSOLE]
    [digest] = bot.store.messages_to(str(ADMIN))
    lines = digest.text.splitlines()
    assert lines[0] == ("⚠ The digest room matrix:!coord:example.org is on matrix, which this bot does not run (it "
                        "runs console): sent to the admins instead.")
    assert "A-2026-0001 TLP:AMBER · Th Npoc (Thailand) owes acknowledgement" in digest.text
    assert sum(line.startswith("⚠") for line in lines) == 1
    [audited] = [e for e in bot.store.audit if e.detail.get("kind") == "digest"]
    assert audited.channel == str(ADMIN)


def test_the_bulletin_for_a_room_not_run_goes_to_the_admins_once_saying_so() -> None:
    bot = RoomsBot([(ADMIN, "admin")])
    bot.says("my-officer", "/alert to:TH tlp:clear topic:maritime Clear text")
    month = bot.clock.now().date().replace(day=1)
    assert bot.service.bulletin(bot.clock.now(), month)
    assert not bot.service.bulletin(bot.clock.now(), month)
    assert not [m for m in bot.store.outbox.values() if m.destination.platform is not Platform.CONSOLE]
    [bulletin] = bot.store.messages_to(str(ADMIN))
    assert bulletin.text.splitlines()[0] == (
        "⚠ The bulletin room telegram:-1001234567890 is on telegram, which this bot does not run (it runs "
        "console): sent to the admins instead.")
    assert "Clear text" in bulletin.text


def test_with_no_admin_to_tell_nothing_is_queued_for_a_room_not_run() -> None:
    bot = RoomsBot([])
    bot.says("my-officer", "/alert to:TH tlp:clear Clear text")
    bot.service.digest(bot.clock.now(), bot.clock.now().date())
    bot.service.bulletin(bot.clock.now(), bot.clock.now().date().replace(day=1))
    assert not [m for m in bot.store.outbox.values() if m.destination.platform is not Platform.CONSOLE]
