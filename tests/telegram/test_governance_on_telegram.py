"""Governance end to end on Telegram, against the fake Bot API server, as tests/e2e/test_arrangements_console.py
does it on the console: a hub room registered in chat takes a TLP:GREEN alert but never an AMBER+STRICT
one; an arrangement recorded in chat reminds the coordinators and expires mid-run; the monthly bulletin
posted in the coordinators' Telegram group counts the harmonised incident fields from the configured
minimum. The scheduler's rounds run as its jobs run them (bot.scheduling.scheduler.reminder_service),
with the bot's manual clock moved on."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from alerts.clock import ManualClock
from bot.config.settings import Settings, settings_from_data
from bot.scheduling.scheduler import previous_month, reminder_service
from storage.tables import outbox
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Chat, User
from tests.telegram.support import OFFICER, TH_NPOC, Bot, config_data, eventually, meet, relaxed, running_bot

COORDINATOR = User(301, "Nok")     # rso-coordinator
ADMIN = User(302, "Arif")          # rso-admin
CANADA = User(203, "Claire")       # ca-npoc
KUL = Chat(-1001700, "supergroup", "KUL airport")
COORDINATION = Chat(-1001800, "supergroup", "Coordinators (Telegram)")
ON_TELEGRAM = {"rso-coordinator": COORDINATOR, "rso-admin": ADMIN, "ca-npoc": CANADA}


def texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [s.text for s in fake.sent_to(chat_id)]


def said(fake: FakeBotApi, chat_id: int, part: str) -> list[str]:
    return [t for t in texts(fake, chat_id) if part in t]


def governance_settings(tmp_path, fake: FakeBotApi, **reminders: object) -> Settings:  # noqa: ANN001
    data = config_data(tmp_path, fake.base_url)
    for contact in data["network"]["contacts"]:
        user = ON_TELEGRAM.get(contact["id"])
        if user is not None:
            contact["identities"] = [f"telegram:user:{user.id}", *contact["identities"]]
    data["network"]["rooms"].append({"chat": f"telegram:{COORDINATION.id}", "name": "Coordinators (Telegram)",
                                     "purpose": "coordination", "organisations": ["RSO"]})
    data["reminders"].update(reminders)
    data["portal"]["enabled"] = False  # nothing here needs it, and its port is shared with other runs
    meet(fake, OFFICER, TH_NPOC, COORDINATOR, ADMIN, CANADA)
    fake.world.chat(KUL)
    fake.world.chat(COORDINATION)
    return settings_from_data(data, tmp_path / "config.toml")


async def sent_out(bot: Bot) -> None:
    """Until the worker has sent everything due on Telegram (the console is not connected here)."""
    def busy() -> int:
        return bot.count(outbox, outbox.c.state.in_(("pending", "sending")), outbox.c.destination.contains("telegram:"))
    await eventually(lambda: busy() == 0, "the outbox to be sent")


async def rounds(bot: Bot, clock: ManualClock, by: timedelta = timedelta(0)) -> None:
    """Time passes; the scheduler's tick and bulletin run as its jobs run them, and the worker sends.
    The clock moves only between sends: a real one never jumps past a send in flight (its lease)."""
    await sent_out(bot)
    clock.advance(by)
    service = reminder_service(bot.runtime)
    now = clock.now()
    await bot.runtime.db.run(service.tick, now)
    await bot.runtime.db.run(service.bulletin, now, previous_month(now.date()))
    bot.runtime.worker.wake()
    await sent_out(bot)


def deliveries(bot: Bot, contact: str) -> list[tuple[str, str, str]]:
    with bot.runtime.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(outbox.c.reference, outbox.c.destination, outbox.c.state)
            .where(outbox.c.contact == contact, outbox.c.kind == "delivery").order_by(outbox.c.id))]


async def test_a_hub_group_takes_a_green_alert_and_never_an_amber_strict_one(tmp_path, fake, monkeypatch) -> None:
    settings = governance_settings(tmp_path, fake)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        fake.says(ADMIN, f'/room register telegram:{KUL.id} name:"KUL airport" purpose:network orgs:MY,TH hubs:KUL')
        await eventually(lambda: said(fake, ADMIN.id, "Registered"), "the admin's answer")
        assert said(fake, ADMIN.id, f"Registered KUL airport (telegram:{KUL.id}) · network · MY, TH · "
                                    "only items of hubs KUL")
        fake.says(OFFICER, "/alert to:TH tlp:green hub:KUL Two travellers at gate C3")
        await eventually(lambda: texts(fake, KUL.id) and said(fake, OFFICER.id, "A-2026-0001 accepted"),
                         "the green alert in the hub group, and its receipt")
        [posted] = texts(fake, KUL.id)
        assert posted.startswith("[TLP:GREEN] from Malaysia\nTwo travellers at gate C3") and "Hub: KUL" in posted
        [receipt] = said(fake, OFFICER.id, "A-2026-0001 accepted")
        assert "Sending to National point of contact (Thailand). Posted in KUL airport." in receipt
        # Thailand's copy is the group post, made for its point of contact.
        assert deliveries(bot, "th-npoc") == [("A-2026-0001", f"chat:telegram:{KUL.id}", "sent")]

        fake.says(OFFICER, "/alert to:TH tlp:amber+strict hub:KUL Named informant at gate C3")
        await eventually(lambda: said(fake, OFFICER.id, "A-2026-0002 accepted")
                         and said(fake, TH_NPOC.id, "A-2026-0002"), "the strict alert's receipt and notice")
        [receipt] = said(fake, OFFICER.id, "A-2026-0002 accepted")
        assert ("Not posted in a room for National point of contact (Thailand): TLP:AMBER+STRICT is posted only in "
                "the recipient organisation's own room, and KUL airport is not one; sent to their direct chat "
                "instead.") in receipt
        assert "Posted in" not in receipt
        assert texts(fake, KUL.id) == [posted]  # nothing more in the hub group
        assert not any("informant" in s.text for s in fake.sent)  # nor anywhere else on Telegram
        # Thailand still gets its copy: content on an end-to-end encrypted channel, a content-free notice here.
        [notice] = said(fake, TH_NPOC.id, "A-2026-0002")
        assert notice.startswith("A TLP:AMBER+STRICT alert A-2026-0002 from Malaysia awaits you on the console")
        assert deliveries(bot, "th-npoc")[1][:2] == ("A-2026-0002", "direct:console:th-npoc")


async def test_an_arrangement_recorded_in_chat_reminds_the_coordinators_and_expires_mid_run(
        tmp_path, fake, monkeypatch) -> None:
    settings = governance_settings(tmp_path, fake)
    clock = ManualClock()  # Monday 23 November 2026, 09:00 UTC
    alert = "/alert to:CA tlp:green topic:document-fraud Two travellers with altered passports, flight XX123"
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings, clock=clock) as bot:
        fake.says(COORDINATOR, '/arrangement add between:MY,CA doc:"MoU MY-CA 2026" topics:document-fraud '
                               "until:2026-11-30")
        await eventually(lambda: said(fake, COORDINATOR.id, "Recorded arrangement"), "the coordinator's answer")
        assert said(fake, COORDINATOR.id, "Recorded arrangement #3 CA–MY 'MoU MY-CA 2026': document-fraud, "
                                          "until 2026-11-30")
        fake.says(OFFICER, alert)
        await eventually(lambda: said(fake, CANADA.id, "Two travellers"), "the delivery to Canada")
        before = said(fake, CANADA.id, "Two travellers")

        for _ in range(3):  # three ticks, an hour apart: one reminder
            await rounds(bot, clock, timedelta(hours=1))
        await eventually(lambda: said(fake, COORDINATOR.id, "ends in 7 days"), "the reminder")
        [reminder] = said(fake, COORDINATOR.id, "ends in 7 days")
        assert reminder.startswith("Sharing arrangement #3 CA–MY 'MoU MY-CA 2026'")

        await rounds(bot, clock, timedelta(days=8))  # Tuesday 1 December: past its last day
        fake.says(OFFICER, alert)
        await eventually(lambda: said(fake, OFFICER.id, "Not sent"), "the refusal")
        [refused] = said(fake, OFFICER.id, "Not sent")
        assert refused.startswith("Not sent: Malaysia has no sharing arrangement in force with Canada for "
                                  "document-fraud: the arrangement MY–CA 'MoU MY-CA 2026' for document-fraud "
                                  "ended on 2026-11-30")
        assert any(r.get("command") == "alert" for r in bot.refusals())
        fake.says(COORDINATOR, "/arrangement list")  # answered after the refusal: everything before it is sent
        await eventually(lambda: said(fake, COORDINATOR.id, "— ended on 2026-11-30"), "the list")
        # Nothing more for Canada (the earlier copy's reminders to acknowledge it go on: it was shared in force).
        assert said(fake, CANADA.id, "Two travellers") == before
        assert deliveries(bot, "ca-npoc") == [("A-2026-0001", f"direct:telegram:user:{CANADA.id}", "sent")]
        assert fake.world.deleted == set()
        assert len(said(fake, COORDINATOR.id, "ends in 7 days")) == 1


async def test_the_monthly_bulletin_in_the_coordinators_group_counts_from_the_configured_minimum(
        tmp_path, fake, monkeypatch) -> None:
    settings = governance_settings(tmp_path, fake, bulletin_room=f"telegram:{COORDINATION.id}", count_minimum=3)
    clock = ManualClock()  # 23 November 2026
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings, clock=clock) as bot:
        for n in range(3):
            fake.says(OFFICER, f"/alert to:TH tlp:amber topic:people-smuggling persons:{n + 1} nationalities:MM,BD "
                               f"method:sea route:MM>TH>MY Boat landing {n}")
        for n in range(2):
            fake.says(OFFICER, f"/alert to:TH tlp:amber persons:1 nationalities:AF method:air document:passport "
                               f"issuer:AF Flight KUL-BKK {n}")
        await eventually(lambda: len(said(fake, TH_NPOC.id, "[TLP:AMBER]")) == 5, "the five deliveries")
        assert said(fake, TH_NPOC.id, "Incident: 3 persons · nationalities MM, BD · sea · route MM→TH→MY")
        assert texts(fake, COORDINATION.id) == []

        await rounds(bot, clock, timedelta(days=8))  # 1 December: the November bulletin
        await eventually(lambda: said(fake, COORDINATION.id, "Monthly bulletin"), "the bulletin")
        [bulletin] = texts(fake, COORDINATION.id)
        lines = bulletin.splitlines()
        assert "Monthly bulletin · November 2026" in lines[0]
        assert "Harmonised fields (5 items with them; counts under 3 are not shown):" in lines
        assert "  Persons reported: 8" in lines
        assert "  By nationality: BD 3, MM 3" in lines and "  By method: sea 3" in lines
        assert "  By origin: MM 3" in lines and "  By transit: TH 3" in lines and "  By destination: MY 3" in lines
        assert not any("AF" in line or "air" in line or "passport" in line for line in lines)  # two items: not shown
        assert "Boat landing" not in bulletin and "Flight" not in bulletin  # AMBER: counted, never carried
