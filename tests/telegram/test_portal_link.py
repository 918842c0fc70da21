"""/portal on Telegram: a login link in the person's private chat with the bot, none in a group; the
link logs them in (the portal as serve() runs it beside the connector)."""

from __future__ import annotations

import asyncio
import re
import socket

from bot.config.settings import settings_from_data
from tests.portal.client import Client
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.support import NETWORK_GROUP, TH_NPOC, config_data, eventually, meet, relaxed, running_bot

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/[A-Za-z0-9_-]+)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_portal_gives_a_link_in_a_private_chat_only(tmp_path, fake: FakeBotApi, monkeypatch) -> None:
    data = config_data(tmp_path, fake.base_url)
    data["portal"] = {"enabled": True, "listen": f"127.0.0.1:{_free_port()}"}
    settings = settings_from_data(data, tmp_path / "config.toml")
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        meet(fake, TH_NPOC)
        fake.says(TH_NPOC, "/portal", chat=NETWORK_GROUP)
        await eventually(lambda: any("direct chat" in s.text for s in fake.sent_to(NETWORK_GROUP.id)),
                         "the refusal in the group")
        assert not any("/login/" in s.text for s in fake.sent_to(NETWORK_GROUP.id))
        fake.says(TH_NPOC, "/portal")
        await eventually(lambda: any(LINK.search(s.text) for s in fake.sent_to(TH_NPOC.id)), "the link")
        link = next(m.group(1) for s in fake.sent_to(TH_NPOC.id) if (m := LINK.search(s.text)))
        client = Client(bot.runtime.portal_url or "")
        answer = await asyncio.to_thread(client.log_in, link)  # the portal answers on this test's loop
        assert answer.status == 303 and answer.headers["Location"] == "/board"
