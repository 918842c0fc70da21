"""Within Telegram's limits, and what happens when Telegram says no, stalls or repeats itself."""

from __future__ import annotations

import asyncio

from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage
from bot.connectors.base import POSSIBLE_REPEAT
from bot.connectors.telegram.api import TelegramApi, build_application
from bot.connectors.errors import PlatformError
from tests.telegram.support import MY_NPOC, OFFICER, TH_NPOC, eventually, relaxed, running_bot

ALERT = "/alert to:TH,MY tlp:amber topic:document-fraud\nTwo travellers with altered passports"


def deliveries(fake, user) -> list:  # noqa: ANN001
    return [s for s in fake.sent_to(user.id) if s.text.removeprefix(POSSIBLE_REPEAT + "\n").startswith("[TLP:AMBER]")]


async def test_the_fake_server_enforces_telegram_flood_control(fake) -> None:
    api = TelegramApi(build_application(fake.token, fake.base_url, timeout=5))
    await api.initialize()
    try:
        results = await asyncio.gather(*(api.send_message(TH_NPOC.id, f"n{n}") for n in range(8)),
                                       return_exceptions=True)
    finally:
        await api.shutdown()
    limited = [r for r in results if isinstance(r, PlatformError) and r.code == "rate-limited"]
    assert limited and all(r.retry_after >= 1 for r in limited)
    assert fake.flood.too_many == len(limited)


async def test_a_429_reschedules_that_row_only_and_nothing_goes_inside_the_window(tmp_path, fake, monkeypatch) -> None:
    fake.fail_next("sendMessage", 429, retry_after=2, chat_id=TH_NPOC.id)
    async with running_bot(tmp_path, fake, monkeypatch) as bot:  # Telegram's real limits, both sides
        fake.says(OFFICER, ALERT)
        await eventually(lambda: deliveries(fake, MY_NPOC), "the delivery to Malaysia")
        await eventually(lambda: deliveries(fake, TH_NPOC), "the delivery to Thailand, after the window")
        assert len(deliveries(fake, TH_NPOC)) == 1 and len(deliveries(fake, MY_NPOC)) == 1
        assert fake.flood.windows and fake.flood.inside_window == 0
        assert fake.flood.too_many == 1  # the injected one; the bot's own pace never drew a 429
        assert bot.connector.unknown_outcomes == 0


async def test_a_send_that_timed_out_after_leaving_is_retried_once_and_counted(tmp_path, fake, monkeypatch) -> None:
    fake.stall_next("sendMessage", 4.0, chat_id=TH_NPOC.id)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), request_timeout=1.0) as bot:
        fake.says(OFFICER, ALERT)
        await eventually(lambda: len(deliveries(fake, TH_NPOC)) == 2, "the retry")
        assert bot.connector.unknown_outcomes == 1
        await eventually(lambda: bot.outbox_states().get("leased", 0) == 0 and "pending" not in bot.outbox_states(),
                         "the outbox settled")
        assert "failed" not in bot.outbox_states()


async def test_the_resend_after_an_unknown_outcome_says_it_may_repeat_the_earlier_send(
        tmp_path, fake, monkeypatch) -> None:
    fake.stall_next("sendMessage", 4.0, chat_id=TH_NPOC.id)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), request_timeout=1.0):
        fake.says(OFFICER, ALERT)
        await eventually(lambda: len(deliveries(fake, TH_NPOC)) == 2, "the retry")
        first, second = deliveries(fake, TH_NPOC)
        assert first.text.startswith("[TLP:AMBER] document-fraud · from Malaysia") and "A-2026-0001" in first.text
        assert second.text == f"{POSSIBLE_REPEAT}\n{first.text}"
        [to_malaysia] = deliveries(fake, MY_NPOC)  # its send had a known outcome: no mark
        assert to_malaysia.text.startswith("[TLP:AMBER] document-fraud") and "A-2026-0001" in to_malaysia.text


async def test_a_second_unknown_outcome_is_not_retried_and_the_originator_is_told(tmp_path, fake, monkeypatch) -> None:
    fake.stall_next("sendMessage", 4.0, chat_id=TH_NPOC.id, times=2)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), request_timeout=1.0) as bot:
        fake.says(OFFICER, ALERT)
        await eventually(lambda: any("unknown-outcome" in s.text for s in fake.sent_to(OFFICER.id)),
                         "the originator told")
        assert bot.connector.unknown_outcomes == 2
        assert len(deliveries(fake, TH_NPOC)) == 2  # both arrived in fact: exactly why it stops at one retry


async def test_5xx_faults_and_repeated_updates_do_not_repeat_commands(tmp_path, fake, monkeypatch) -> None:
    fake.fail_next("getUpdates", 502)
    fake.fail_next("sendMessage", 500, chat_id=TH_NPOC.id)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, ALERT)
        await eventually(lambda: deliveries(fake, TH_NPOC), "the delivery after a 500")
        fake.duplicate_next = True  # the next getUpdates answer repeats the last batch
        fake.says(OFFICER, "/whoami")
        await eventually(lambda: any("You are" in s.text for s in fake.sent_to(OFFICER.id)), "the /whoami answer")
        fake.fail_next("getUpdates", 429, retry_after=1)
        fake.says(OFFICER, "/mine")
        await eventually(lambda: any("open items" in s.text for s in fake.sent_to(OFFICER.id)), "the /mine answer")
        assert bot.items() == 1 and len(deliveries(fake, TH_NPOC)) == 1
        assert len(bot.inbox_events()) == 3


async def test_a_long_alert_from_the_console_reaches_telegram_in_parts(tmp_path, fake, monkeypatch) -> None:
    body = "\n".join(f"Passenger {n:03d}: name withheld <redacted> & travelling on an altered passport" for n in range(150))
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        await bot.runtime.ingest([InboundMessage(
            "console-long-1", UserRef(Platform.CONSOLE, "my-officer"), ChatRef(Platform.CONSOLE, "@my-officer"),
            f"/alert to:TH tlp:amber topic:document-fraud\n{body}", bot.runtime.clock.now())])
        await eventually(lambda: deliveries(fake, TH_NPOC) and deliveries(fake, TH_NPOC)[-1].buttons(),
                         "the last part, with the buttons")
        parts = deliveries(fake, TH_NPOC)
        total = len(parts)
        assert total == 3  # about 11,000 characters
        assert f"(part 1/{total})" in parts[0].text.split("\n")[0]
        assert f"(continued {total}/{total})" in parts[-1].text.split("\n")[0]
        assert [bool(p.buttons()) for p in parts] == [False] * (total - 1) + [True]
        assert all(p.protect_content for p in parts)
        lines = [line for p in parts for line in p.text.split("\n")]
        assert all(f"Passenger {n:03d}: name withheld <redacted> & travelling" in "\n".join(lines) for n in range(150))
