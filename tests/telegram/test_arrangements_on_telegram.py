"""Sharing arrangements on Telegram, against the fake Bot API server: a recipient's /forward is refused for
lack of the originator's arrangement, a coordinator records the arrangement in chat, and the same
forward then goes."""

from __future__ import annotations

from sqlalchemy import select

from bot.config.settings import settings_from_data
from storage.tables import outbox
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import User
from tests.telegram.support import OFFICER, TH_NPOC, config_data, eventually, meet, relaxed, running_bot

COORDINATOR = User(301, "Nok")  # rso-coordinator
FORWARD = '/forward A-2026-0001 to:CA purpose:"joint investigation"'


def texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [s.text for s in fake.sent_to(chat_id)]


async def test_a_forward_waits_for_the_originators_arrangement_recorded_in_chat(tmp_path, fake, monkeypatch) -> None:
    data = config_data(tmp_path, fake.base_url)
    for contact in data["network"]["contacts"]:
        if contact["id"] == "rso-coordinator":
            contact["identities"] = [f"telegram:user:{COORDINATOR.id}", *contact["identities"]]
    # Thailand, the recipient, may share with Canada on document-fraud; Malaysia, the originator, may not.
    data["network"]["arrangements"].append({"between": ["TH", "CA"], "kind": "TH-CA letter",
                                            "topics": ["document-fraud"]})
    settings = settings_from_data(data, tmp_path / "config.toml")
    meet(fake, OFFICER, TH_NPOC, COORDINATOR)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        fake.says(OFFICER, "/alert to:TH tlp:green topic:document-fraud Two travellers, flight XX123")
        await eventually(lambda: any("Two travellers" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
        fake.says(TH_NPOC, FORWARD)
        await eventually(lambda: any(t.startswith("Not forwarded") for t in texts(fake, TH_NPOC.id)), "the refusal")
        [refused] = [t for t in texts(fake, TH_NPOC.id) if t.startswith("Not forwarded")]
        assert refused.startswith("Not forwarded: Malaysia has no sharing arrangement with Canada for document-fraud")
        assert any(r.get("command") == "forward" for r in bot.refusals())

        def to_canada() -> list[str]:
            with bot.runtime.engine.connect() as conn:
                return list(conn.execute(select(outbox.c.key).where(outbox.c.contact == "ca-npoc",
                                                                   outbox.c.kind == "delivery")).scalars())

        assert to_canada() == []
        fake.says(COORDINATOR, '/arrangement add between:MY,CA doc:"MoU MY-CA 2026" topics:document-fraud')
        await eventually(lambda: any(t.startswith("Recorded arrangement") for t in texts(fake, COORDINATOR.id)),
                         "the coordinator's answer")
        fake.says(TH_NPOC, FORWARD)
        await eventually(lambda: any(t.startswith("Forwarded A-2026-0001") for t in texts(fake, TH_NPOC.id)),
                         "the forward")
        assert len(to_canada()) == 1
