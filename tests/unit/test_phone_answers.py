"""What a person reads on a phone in a shared room: /whoami kept to their direct chat, an
acknowledgement that says who acknowledged, banners that leave routine out."""

from __future__ import annotations

from tests.unit.test_followup_harness import Bot


def test_whoami_in_a_room_is_answered_in_the_direct_chat_and_the_room_told_so_in_one_line() -> None:
    bot = Bot()
    in_room = bot.says("th-npoc", "/whoami", chat="console:#network")
    assert in_room == ["Th Npoc: answered in your direct chat with the bot, because the answer carries your "
                       "accounts on each platform."]
    private = bot.last_to("th-npoc")
    assert private.startswith("You are Th Npoc") and "Accounts: console:th-npoc" in private


def test_whoami_in_the_direct_chat_is_answered_there_alone() -> None:
    bot = Bot()
    [answer] = bot.says("th-npoc", "/whoami")
    assert answer.startswith("You are Th Npoc") and len(bot.store.outbox) == 1
