"""A group that becomes a supergroup keeps its place in the directory, told or found out on a send."""

from __future__ import annotations

from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from tests.telegram.fake_bot_state import Chat
from tests.telegram.support import OFFICER, TH_GROUP, eventually, relaxed, running_bot

NEW_ID = -1004001


def answers_in(fake, chat_id: int, words: str) -> list:  # noqa: ANN001
    return [s for s in fake.sent_to(chat_id) if words in s.text]


async def test_a_migrated_group_is_still_the_registered_room(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/whoami", TH_GROUP)
        await eventually(lambda: answers_in(fake, TH_GROUP.id, "answered in your direct chat"), "the answer in the group")
        supergroup = fake.migrate(TH_GROUP, NEW_ID, OFFICER)
        fake.says(OFFICER, "/whoami", supergroup)
        await eventually(lambda: answers_in(fake, NEW_ID, "answered in your direct chat"), "the answer in the supergroup")
        assert not bot.refusals()  # not taken for an unregistered chat
        assert await bot.runtime.db.run(bot.runtime.cursor, "telegram.chat_migrations") == f'{{"{TH_GROUP.id}": {NEW_ID}}}'


async def test_a_send_to_the_old_id_follows_the_move(tmp_path, fake, monkeypatch) -> None:
    fake.world.chat(Chat(NEW_ID, "supergroup", TH_GROUP.title))
    fake.world.moved[TH_GROUP.id] = NEW_ID  # the bot never saw the service message
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        notice = Outgoing(key="k1", kind=MessageKind.NOTICE,
                          destination=Destination.chat(ChatRef(Platform.TELEGRAM, str(TH_GROUP.id))),
                          text="Desk notice", reference=None, contact=None, protect_content=False, reply_to=None,
                          attempt=1)
        message_id = await bot.connector.send(notice)
        assert message_id.startswith(f"{NEW_ID}:")
        assert answers_in(fake, NEW_ID, "Desk notice")
        assert await bot.runtime.db.run(bot.runtime.cursor, "telegram.chat_migrations") == f'{{"{TH_GROUP.id}": {NEW_ID}}}'
