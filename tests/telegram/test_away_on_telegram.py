"""/away on Telegram, against the fake Bot API server: an item for someone away reaches their delegate,
who acknowledges it for them; the originator reads for whom."""

from __future__ import annotations

from datetime import timedelta

from tests.story_clock import StoryClock
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.support import MY_NPOC, OFFICER, TH_NPOC, eventually, meet, relaxed, running_bot


def texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [s.text for s in fake.sent_to(chat_id)]


async def test_an_item_for_someone_away_reaches_their_delegate_who_acks_for_them(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC, MY_NPOC)
    clock = StoryClock()
    last_day = clock.now().date() + timedelta(days=3)  # the bot's today, not the system's
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), clock=clock):
        fake.says(MY_NPOC, f"/away until:{last_day:%Y-%m-%d} backup:@my-officer on leave")
        await eventually(lambda: any("You are away until" in t for t in texts(fake, MY_NPOC.id)), "the answer")
        fake.says(TH_NPOC, "/alert to:@my-npoc tlp:amber Boat sighted off Langkawi")
        await eventually(lambda: any("Boat sighted" in t for t in texts(fake, OFFICER.id)), "the delegate's copy")
        [copy] = [t for t in texts(fake, OFFICER.id) if "Boat sighted" in t]
        assert "who is away until" in copy and "Boat sighted off Langkawi" in copy
        assert not any("Boat sighted" in t for t in texts(fake, MY_NPOC.id))
        fake.says(OFFICER, "/ack A-2026-0001")
        await eventually(lambda: any("acknowledged by" in t and " for " in t for t in texts(fake, TH_NPOC.id)),
                         "the originator told for whom")
        [told] = [t for t in texts(fake, TH_NPOC.id) if "acknowledged by" in t]
        assert "A-2026-0001: acknowledged by" in told and "(Malaysia) for " in told
