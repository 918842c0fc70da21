"""/withdraw on Telegram, against the fake Bot API server: the delivered copy is deleted and its reader
told in one line; past Telegram's 48 hours the copy cannot be deleted, and its reader is asked to.
(/correct on Telegram: test_correct.py.)"""

from __future__ import annotations

import io
from datetime import timedelta

from bot.runtime.keys import ensure_keyring
from storage.audit.trail import read_entries

from tests.story_clock import StoryClock
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.support import OFFICER, TH_NPOC, Bot, eventually, meet, relaxed, running_bot
from tests.telegram.test_caveats_on_telegram import texts, with_room_admin

ALERT = "/alert to:TH tlp:amber topic:document-fraud Two travellers with altered passports"
REF = "A-2026-0001"
HOURS_49 = 49 * 3600


def audit(bot: Bot) -> list:
    """The audit log's entries, decrypted."""
    keyring = ensure_keyring(bot.runtime.settings.keys.path, io.StringIO())
    with bot.runtime.engine.connect() as conn:
        return list(read_entries(conn, keyring))


def _copy(fake: FakeBotApi) -> tuple[int, int]:
    [sent] = [s for s in fake.sent_to(TH_NPOC.id) if "Two travellers" in s.text]
    return sent.chat_id, sent.message_id


async def _delivered(fake: FakeBotApi) -> tuple[int, int]:
    fake.says(OFFICER, ALERT)
    await eventually(lambda: any("Two travellers" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
    return _copy(fake)


async def test_withdraw_deletes_the_copy_tells_its_reader_and_answers_later_commands(tmp_path, fake,
                                                                                    monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        copy = await _delivered(fake)
        fake.says(OFFICER, f"/withdraw {REF} sent to the wrong country")
        await eventually(lambda: copy in fake.world.deleted, "the copy deleted")
        await eventually(lambda: any("was withdrawn" in t for t in texts(fake, TH_NPOC.id)), "the reader told")
        [told] = [t for t in texts(fake, TH_NPOC.id) if "was withdrawn" in t]
        assert told.startswith(f"[TLP:AMBER] {REF} was withdrawn by Immigration liaison officer (Malaysia) on ")
        assert told.endswith(": sent to the wrong country. Disregard it; the bot removes its copy.")
        assert "\n" not in told
        await eventually(lambda: any(t.startswith(f"Withdrew {REF}.") for t in texts(fake, OFFICER.id)),
                         "the officer answered")
        fake.says(TH_NPOC, f"/ack {REF}")
        await eventually(lambda: any("withdrawn on" in t for t in texts(fake, TH_NPOC.id)), "the ack answered")
        [answer] = [t for t in texts(fake, TH_NPOC.id) if "withdrawn on" in t]
        assert answer.endswith("(sent to the wrong country). It is closed; nothing more can be done with it.")
        entries = audit(bot)
        [withdrawal] = [e for e in entries if e.action == "withdrawal"]
        assert (withdrawal.actor, withdrawal.reference) == ("my-officer", REF)
        assert withdrawal.detail["reason"] == "sent to the wrong country"
        assert [(e.detail["event"], e.detail["why"]) for e in entries if (e.detail or {}).get("why")] == [
            ("message-removed", "withdrawn")]


async def test_past_48_hours_the_fake_refuses_and_the_reader_and_withdrawer_are_asked_to_delete(
        tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        copy = await _delivered(fake)
        now = fake.world.now
        fake.world.now = lambda: now() + HOURS_49  # the server's 48 hours are over; the bot has not noticed
        fake.says(OFFICER, f"/withdraw {REF} sent to the wrong country")
        await eventually(lambda: any("cannot remove its copy here" in t for t in texts(fake, TH_NPOC.id)),
                         "the reader asked to delete it")
        assert copy not in fake.world.deleted
        [warning] = [t for t in texts(fake, TH_NPOC.id) if "cannot remove its copy here" in t]
        assert "Telegram lets a bot delete messages only for 48 hours" in warning
        await eventually(lambda: any("could not be removed" in t for t in texts(fake, OFFICER.id)),
                         "the withdrawer told")
        assert [(e.detail["event"], e.detail["error"]) for e in audit(bot) if (e.detail or {}).get("why")] == [
            ("message-kept", "too-old")]


async def test_a_copy_the_bot_knows_is_past_48_hours_gets_the_one_line_notice_instead(tmp_path, fake,
                                                                                      monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    clock = StoryClock()
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), clock=clock) as bot:
        with_room_admin(bot)
        copy = await _delivered(fake)
        # Its send recorded before the clock moves on (else the bot would date it 49 hours later).
        await eventually(lambda: not {"pending", "sending"} & set(bot.outbox_states()), "the sends recorded")
        clock.shift += timedelta(hours=49)
        now = fake.world.now
        fake.world.now = lambda: now() + HOURS_49
        fake.says(OFFICER, f"/withdraw {REF} sent to the wrong country")
        await eventually(lambda: any("was withdrawn" in t for t in texts(fake, TH_NPOC.id)), "the reader told")
        [told] = [t for t in texts(fake, TH_NPOC.id) if "was withdrawn" in t]
        assert told.endswith("Disregard it and delete the copy yourself: the bot can no longer remove it here.")
        await eventually(lambda: any(t.startswith(f"Withdrew {REF}. 0 delivered copies to be removed")
                                     for t in texts(fake, OFFICER.id)), "the officer answered")
        assert copy not in fake.world.deleted
        assert not any("cannot remove its copy here" in t for t in texts(fake, TH_NPOC.id))

