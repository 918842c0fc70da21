"""A national focal point on Telegram, against the fake Bot API server: Thailand's (th-npoc, given the
role in the configuration) onboards a Thai newcomer, who gets their invitation links, and is refused,
in their chat, when they try to offboard Malaysia's officer, who stays in the directory and the groups."""

from __future__ import annotations

import asyncio
import io

from bot.config.settings import settings_from_data
from bot.connectors.telegram import telegram_connector_for
from bot.connectors.telegram.membership import TelegramRoomAdmin
from bot.runtime.app import add_receiver, build_runtime, vocabulary_for
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Chat, User
from tests.telegram.support import NETWORK_GROUP, TH_GROUP, TH_NPOC, TOKEN_ENV, config_data, eventually, relaxed
from tests.telegram.test_membership import calls, remember_joins

NEWCOMER = User(301, "Niran")


async def test_a_national_focal_point_onboards_their_own_people_and_no_one_elses(tmp_path, fake: FakeBotApi,
                                                                                 monkeypatch) -> None:  # noqa: ANN001
    fake.world.chat(Chat(NEWCOMER.id, "private", NEWCOMER.first_name))
    remember_joins(fake, monkeypatch, joined=set())
    monkeypatch.setenv(TOKEN_ENV, fake.token)
    data = config_data(tmp_path, fake.base_url)
    for contact in data["network"]["contacts"]:
        if contact["id"] == "th-npoc":
            contact["roles"] = ["contact", "national-focal-point"]
    settings = settings_from_data(data, tmp_path / "config.toml")
    runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO())
    connector = telegram_connector_for(runtime, vocabulary_for(settings), limiter=relaxed(fake), poll_timeout=1,
                                       request_timeout=2.0)
    add_receiver(runtime, connector)
    runtime.room_actions.add(TelegramRoomAdmin.for_connector(connector))
    stop = asyncio.Event()
    await runtime.settle()
    tasks = [asyncio.create_task(runtime.worker.run(stop, idle=0.2)),
             asyncio.create_task(runtime.run_inbox(stop, idle=0.2))]
    try:
        await connector.start(runtime.ingest, None)
        await eventually(lambda: connector.connected, "the connector to start")

        def answers() -> list[str]:
            return [s.text for s in fake.sent_to(TH_NPOC.id)]

        fake.says(TH_NPOC, "/member add telegram:user:301 country:TH role:officer desk:police")
        await eventually(lambda: any("Added Telegram user 301 (@tg-301, Thailand, police desk)" in t for t in answers()),
                         "the focal point's answer")
        await eventually(lambda: len(fake.sent_to(NEWCOMER.id)) == 2, "the newcomer's two invitations")
        assert sorted(p["chat_id"] for p in calls(fake, "createChatInviteLink")) == sorted([NETWORK_GROUP.id,
                                                                                           TH_GROUP.id])

        fake.says(TH_NPOC, "/member remove telegram:user:101")  # Malaysia's officer
        await eventually(lambda: any("Not allowed: you manage the people of Thailand only; this person is of "
                                     "Malaysia. Ask an admin." in t for t in answers()), "the refusal")
        assert runtime.directory.current().contact("my-officer") is not None
        assert calls(fake, "banChatMember") == []  # nobody was taken out of a group
    finally:
        stop.set()
        await connector.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
        await runtime.close()
