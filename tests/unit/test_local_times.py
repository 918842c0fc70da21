"""Every time a person reads is on their own clock, with the zone named.

Three contacts, each of whom sends and receives: in Bangkok (UTC+7 all year), in Sydney (on
daylight saving time in November: AEDT, UTC+11) and one with no zone of their own (UTC, named as
UTC). The clock starts at 09:00 UTC on 23 November 2026. Rooms, read by several people, name UTC;
the coordinators' digest is on the zone configured for it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from alerts.directory import Directory, Organisation, OrgKind, Room, RoomPurpose
from alerts.identity import ChatRef, UserRef
from alerts.messages import MessageKind
from alerts.reminder_policy import ReminderPolicy
from alerts.roles import Role
from alerts.routing import Destination
from alerts.times import button_time, local_time, zone_at, zone_name
from bot.config.settings import settings_from_toml
from handlers.followup_reminders import ReminderService
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import person
from tests.unit.test_followup_harness import Bot
from tests.unit.test_reminder_service import URGENT, ReminderBot


def network() -> Directory:
    organisations = [Organisation("TH", "Thailand", OrgKind.COUNTRY), Organisation("AU", "Australia", OrgKind.COUNTRY),
                     Organisation("IOM", "IOM", OrgKind.ORGANISATION), Organisation("MY", "Malaysia", OrgKind.COUNTRY),
                     Organisation("RSO", "Regional Support Office", OrgKind.COORDINATOR)]
    contacts = [
        person("bkk", "TH", Role.CONTACT, Role.OFFICER, tz="Asia/Bangkok"),
        person("syd", "AU", Role.CONTACT, Role.OFFICER, tz="Australia/Sydney"),
        person("nozone", "IOM", Role.CONTACT, Role.OFFICER),  # the directory's default: UTC
        person("my-officer", "MY", Role.OFFICER, Role.CONTACT, tz="Asia/Kuala_Lumpur"),
        person("coord", "RSO", Role.COORDINATOR, tz="Asia/Bangkok"),
    ]
    rooms = [Room(ChatRef.parse("console:#network"), "Network room", RoomPurpose.NETWORK,
                  frozenset({"TH", "AU", "IOM", "MY", "RSO"}))]
    return Directory.build(organisations, contacts, rooms)


# contact, zone, hours ahead of UTC on 23-30 Nov 2026, the label each time carries
ZONES = [("bkk", "Asia/Bangkok", 7, "UTC+7"), ("syd", "Australia/Sydney", 11, "AEDT"), ("nozone", "UTC", 0, "UTC")]
REF = "A-2026-0001"


class ZoneBot(Bot):
    def __init__(self, digest_zone: str = "UTC") -> None:
        super().__init__(network())
        self.service = ReminderService(lambda: MemoryUnitOfWork(self.store), self.directory_source, ReminderPolicy(),
                                       digest_room=ChatRef.parse("console:#network"), digest_zone=digest_zone)

    def tick(self, minutes: int = 0) -> None:
        self.later(minutes)
        self.service.tick(self.clock.now())


@pytest.mark.parametrize("who, zone, ahead, label", ZONES)
def test_receipt_status_and_mine_are_on_the_senders_clock(who: str, zone: str, ahead: int, label: str) -> None:
    bot = ZoneBot()
    [receipt] = bot.says(who, "/alert to:@my-officer tlp:amber Boat sighted")
    assert f"Feedback due 30 Nov {9 + ahead:02d}:00 {label}." in receipt  # routine: seven days
    bot.worker_sends()  # 09:01 UTC
    status = bot.answer(who, f"/status {REF}").splitlines()
    assert status[1] == f"Alert from {bot.directory.contacts[who].title(bot.directory)}, " \
                        f"23 Nov {9 + ahead:02d}:00 (times {zone})"
    assert status[2] == f"Ack due 24 Nov {9 + ahead:02d}:00 · feedback due 30 Nov {9 + ahead:02d}:00"
    assert status[-1] == f"My Officer (Malaysia): sent 23 Nov {9 + ahead:02d}:01"
    mine = bot.answer(who, "/mine").splitlines()
    assert mine == [f"Your open items, newest first (times {zone}):",
                    f"{REF} TLP:AMBER · to MY · 0/1 ack, 0 answered · due 30 Nov {9 + ahead:02d}:00"]
    bot.says("my-officer", f"/ack {REF}")
    assert bot.last_to(who) == f"{REF}: acknowledged by My Officer (Malaysia) at 23 Nov {9 + ahead:02d}:01 {label} (1 of 1)."


@pytest.mark.parametrize("who, zone, ahead, label", ZONES)
def test_delivery_reminder_and_overdue_are_on_the_recipients_clock(who: str, zone: str, ahead: int,
                                                                   label: str) -> None:
    bot = ZoneBot()
    bot.says("my-officer", f"/alert to:@{who} tlp:amber priority:urgent Boat in distress")
    [delivery] = bot.received_by(who)
    assert f"\nFeedback due 24 Nov {9 + ahead:02d}:00 {label}\n" in delivery  # urgent: a day
    bot.worker_sends()  # 09:01 UTC: the acknowledgement is due an hour later
    bot.tick(50)
    [reminder] = [m for m in bot.messages_to(who) if m.kind is MessageKind.REMINDER]
    assert reminder.text.splitlines()[1] == (
        f"Reminder: please acknowledge {REF} from My Officer (Malaysia) by 23 Nov {10 + ahead:02d}:01 {label}.")
    bot.later(65)
    overdue = bot.answer(who, "/overdue").splitlines()
    assert overdue[0] == f"Overdue: 1, most overdue first (times {zone})"
    assert f"owes acknowledgement since 23 Nov {10 + ahead:02d}:01 (55m late)" in overdue[1]


@pytest.mark.parametrize("who, zone, ahead, label", ZONES)
def test_the_digest_is_on_its_configured_zone(who: str, zone: str, ahead: int, label: str) -> None:
    bot = ZoneBot(digest_zone=zone)
    bot.says("my-officer", "/alert to:@bkk tlp:amber priority:urgent Boat in distress")
    bot.worker_sends()
    bot.later(2 * 60)
    assert bot.service.digest(bot.clock.now(), bot.clock.now().date())
    [digest] = bot.store.messages_to("chat:console:#network")
    assert f"Most overdue first (times {zone}):" in digest.text
    assert f"Bkk (Thailand) owes acknowledgement since 23 Nov {10 + ahead:02d}:01 (" in digest.text


def test_a_room_reads_utc_named_as_utc() -> None:
    bot = ZoneBot()
    [receipt] = bot.says("bkk", "/alert to:@my-officer tlp:amber Boat sighted", chat="console:#network")
    assert "Feedback due 30 Nov 09:00 UTC." in receipt  # several readers: nobody's clock but UTC's
    [status] = bot.says("bkk", f"/status {REF}", chat="console:#network")
    assert "23 Nov 09:00 (times UTC)" in status
    [ack] = bot.says("my-officer", f"/ack {REF}")
    assert ack.startswith("Acknowledged")
    assert zone_at(bot.directory, "bkk", Destination.chat(ChatRef.parse("console:#network"))) == "UTC"
    assert zone_at(bot.directory, "bkk", Destination.direct(UserRef.parse("console:bkk"))) == "Asia/Bangkok"


def test_a_red_status_asked_in_a_room_is_answered_in_the_direct_chat_on_the_askers_clock() -> None:
    bot = ZoneBot()
    bot.says("syd", "/alert to:@my-officer tlp:red Named source")
    bot.says("syd", f"/status {REF}", chat="console:#network")
    private = bot.messages_to("syd")[-1].text.splitlines()
    assert private[1].endswith("23 Nov 20:00 (times Australia/Sydney)")


SUMMER = datetime(2026, 11, 23, 9, 5, tzinfo=timezone.utc)
WINTER = datetime(2026, 7, 1, 9, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("moment, zone, shown", [
    (SUMMER, "Australia/Sydney", "23 Nov 20:05 AEDT"),     # daylight saving time
    (WINTER, "Australia/Sydney", "01 Jul 19:05 AEST"),
    (SUMMER, "Asia/Bangkok", "23 Nov 16:05 UTC+7"),        # the database has only "+07" for Bangkok
    (SUMMER, "Asia/Kathmandu", "23 Nov 14:50 UTC+5:45"),
    (SUMMER, "America/Toronto", "23 Nov 04:05 EST"),
    (SUMMER, "America/St_Johns", "23 Nov 05:35 NST"),
    (SUMMER, "America/Sao_Paulo", "23 Nov 06:05 UTC-3"),
    (SUMMER, "UTC", "23 Nov 09:05 UTC"),
    (SUMMER, "Mars/Olympus_Mons", "23 Nov 09:05 UTC"),     # unknown here: UTC, and said to be UTC
])
def test_one_function_writes_every_time(moment: datetime, zone: str, shown: str) -> None:
    assert local_time(moment, zone) == shown


def test_a_heading_names_the_zone_or_utc() -> None:
    assert (zone_name("Asia/Bangkok"), zone_name("UTC"), zone_name("Mars/Olympus_Mons")) == ("Asia/Bangkok", "UTC", "UTC")


def test_in_the_config_a_contact_without_a_zone_gets_the_bots_default(tmp_path: Path) -> None:
    settings = settings_from_toml("""\
[bot]
default_timezone = "Asia/Bangkok"

[network]
organisations = [{ code = "TH", name = "Thailand", kind = "country" }]

[[network.contacts]]
id = "th-npoc"
name = "Somchai"
organisation = "TH"
roles = ["contact"]
identities = ["console:th-npoc"]

[[network.contacts]]
id = "th-sydney"
name = "Posted in Sydney"
organisation = "TH"
roles = ["officer"]
identities = ["console:th-sydney"]
timezone = "Australia/Sydney"
""", tmp_path / "config.toml")
    directory = settings.directory()
    contacts = directory.contacts
    assert (contacts["th-npoc"].timezone, contacts["th-sydney"].timezone) == ("", "Australia/Sydney")  # their own
    assert (directory.zone_for(contacts["th-npoc"]), directory.zone_for(contacts["th-sydney"])) == (
        "Asia/Bangkok", "Australia/Sydney")


def test_reminders_and_escalations_say_what_is_asked_first_on_the_readers_clock() -> None:
    """th-npoc and th-deputy are in Bangkok, my-npoc in Kuala Lumpur, the coordinator in Bangkok."""
    bot = ReminderBot()
    bot.says("my-officer", URGENT)
    bot.worker_sends()
    for _ in range(0, 150, 5):
        bot.tick(5)
    second = {m.key.split(":", 2)[2]: m.text.splitlines()[1] for m in bot.reminders()}
    assert second["my-npoc:ack-before:0"] == (
        f"Reminder: please acknowledge {REF} from My Officer (Malaysia) by 23 Nov 18:01 UTC+8.")
    assert second["th-npoc:ack-repeat:1"] == (
        f"Overdue (reminder 2): please acknowledge {REF} from My Officer (Malaysia); it was due 23 Nov 17:01 UTC+7, "
        "30m ago.")
    assert second["th-npoc:ack-backup:0:th-deputy"] == (
        f"Please check with Th Npoc (Thailand), whose acknowledgement of {REF} was due 23 Nov 17:01 UTC+7, 30m ago: "
        "you are their backup.")
    escalation = next(m.text for m in bot.reminders("rso-coord") if ":my-npoc:" in m.key)
    assert "My Npoc (Malaysia) owes acknowledgement since 23 Nov 17:01 UTC+7 (1h late)." in escalation



def test_a_request_reminded_at_its_due_time_reads_due_now_and_its_backup_is_asked_about_the_answer() -> None:
    """At the minute it falls due, "0m ago" reads like a fault; "whose an answer of" is no sentence."""
    bot = ReminderBot(ReminderPolicy())  # no quiet hours: this is about the words
    bot.says("my-officer", '/request to:@th-npoc tlp:amber priority:urgent feedback:2h purpose:"identity check" '
                           "Is passport N1234567 reported stolen?")
    bot.worker_sends()
    for _ in range(0, 180, 5):
        bot.tick(5)
    second = {m.key.split(":", 2)[2]: m.text.splitlines()[1] for m in bot.reminders()
              if m.key.startswith("rem:R-2026-0001:")}
    assert second["th-npoc:feedback-due:0"] == (
        "Due now: please answer R-2026-0001 from My Officer (Malaysia), due 23 Nov 18:01 UTC+7.")
    assert second["th-npoc:feedback-backup:0:th-deputy"] == (
        "Please check with Th Npoc (Thailand), whose answer to R-2026-0001 was due 23 Nov 18:01 UTC+7, 30m ago: "
        "you are their backup.")

def test_a_button_on_a_persons_own_copy_says_the_time_short() -> None:
    assert button_time(SUMMER, SUMMER, "Australia/Sydney") == "20:05"  # their own message, their clock
    assert button_time(SUMMER, WINTER, "Asia/Bangkok") == "Mon 16:05"  # another day: its weekday
    assert button_time(SUMMER, SUMMER, "UTC") == button_time(SUMMER, SUMMER, "Mars/Olympus_Mons") == "09:05 UTC"
