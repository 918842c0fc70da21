"""Caveats on Telegram, against the fake Bot API server: RED content never goes over Telegram (a
content-free notice says where to read it), and a RED alert typed in a group is deleted from it
where the bot may delete, or both the group and the officer are warned where it may not."""

from __future__ import annotations

from bot.connectors.telegram.membership import TelegramRoomAdmin
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.support import MY_NPOC, NETWORK_GROUP, OFFICER, TH_NPOC, Bot, eventually, meet, relaxed, running_bot

RED = "/alert to:@th-npoc tlp:red\nInformant says the boat leaves tonight"


def with_room_admin(bot: Bot) -> None:
    """As `liaison-bot run` has it (bot/cli/main.py): removals go through the Telegram room admin."""
    bot.runtime.room_actions.add(TelegramRoomAdmin.for_connector(bot.connector))


def texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [s.text for s in fake.sent_to(chat_id)]


async def test_red_for_someone_on_telegram_first_is_a_content_free_notice_there(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC, MY_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.says(OFFICER, RED)
        await eventually(lambda: any("is held" in t for t in texts(fake, OFFICER.id)), "the receipt")
        fake.says(MY_NPOC, "/approve A-2026-0001")  # TLP:RED waits for a second person (tests/telegram/test_release.py)
        await eventually(lambda: texts(fake, TH_NPOC.id), "the notice to Thailand")
        [notice] = texts(fake, TH_NPOC.id)
        assert notice == ("A TLP:RED alert A-2026-0001 from Malaysia awaits you on the console, in your direct chat "
                          "with the bot there. TLP:RED is sent only over end-to-end encrypted channels, so not here.")
        assert not any("Informant" in s.text for s in fake.sent)


async def test_red_typed_in_a_group_is_deleted_and_the_group_and_officer_told(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    fake.world.can_delete.add(NETWORK_GROUP.id)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        fake.says(OFFICER, RED, NETWORK_GROUP)
        typed = max(k for k in fake.world.user_messages if k[0] == NETWORK_GROUP.id)
        await eventually(lambda: typed in fake.world.deleted, "the deletion")
        await eventually(lambda: any("was removed from this chat" in t for t in texts(fake, NETWORK_GROUP.id)),
                         "the group told")
        await eventually(lambda: any("was removed from Network (Telegram)" in t for t in texts(fake, OFFICER.id)),
                         "the officer told")
        group = texts(fake, NETWORK_GROUP.id)
        assert not any("Informant" in t or "National point of contact" in t for t in group)
        # The receipt names the recipient: it went to the officer's direct chat, the group was only pointed there.
        assert any("A-2026-0001 is held" in t for t in texts(fake, OFFICER.id))
        assert any("answered in your direct chat" in t for t in group)


async def test_where_the_bot_may_not_delete_both_are_warned(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        fake.says(OFFICER, RED, NETWORK_GROUP)
        await eventually(lambda: any("cannot remove it" in t for t in texts(fake, NETWORK_GROUP.id)), "the group warned")
        await eventually(lambda: any("is still visible in Network (Telegram)" in t for t in texts(fake, OFFICER.id)),
                         "the officer warned")
        assert fake.world.deleted == set()
        [warning] = [t for t in texts(fake, NETWORK_GROUP.id) if "cannot remove it" in t]
        assert "it lacks the power to remove others' messages there" in warning
