"""Only people in the directory, writing as themselves, in their private chat or a registered group, give commands.

Spoofed, anonymous and forwarded commands are refused and recorded in the audit log (who as far as
Telegram says, where, why, the command word; never the text); they never reach the inbox.
"""

from __future__ import annotations

import time

from tests.telegram.fake_bot_state import ANONYMOUS_ADMIN_BOT, Chat, User
from tests.telegram.support import NETWORK_GROUP, OFFICER, STRANGER, Bot, eventually, relaxed, running_bot

COMMAND = "/alert to:TH tlp:amber Two travellers with altered passports"


def refused_for(bot: Bot, reason: str) -> list[dict]:
    return [r for r in bot.refusals() if r.get("reason") == reason]


async def test_an_unknown_person_is_refused_by_the_directory(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(STRANGER, COMMAND)
        await eventually(lambda: fake.sent_to(STRANGER.id), "the answer to the stranger")
        assert "not in this network's directory" in fake.sent_to(STRANGER.id)[0].text
        assert bot.items() == 0
        refusal = refused_for(bot, "unknown sender")[0]
        assert refusal["actor"] == f"telegram:user:{STRANGER.id}" and refusal["command"] == "alert"
        fake.says(STRANGER, "/alert")  # no guided form for someone who could not send its result
        await eventually(lambda: len(fake.sent_to(STRANGER.id)) == 2, "the second answer")
        assert "not in this network's directory" in fake.sent_to(STRANGER.id)[1].text
        assert len(refused_for(bot, "unknown sender")) == 2


async def test_anonymous_admins_forwards_and_via_bot_are_never_command_sources(tmp_path, fake, monkeypatch) -> None:
    anonymous = User(ANONYMOUS_ADMIN_BOT, "Group", "GroupAnonymousBot", is_bot=True)
    inline_bot = {"id": 555, "is_bot": True, "first_name": "Gif", "username": "gif"}
    forwarded_from = {"type": "user", "sender_user": STRANGER.json(), "date": int(time.time()) - 3600}
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(anonymous, COMMAND, NETWORK_GROUP, sender_chat=NETWORK_GROUP.json())
        fake.says(OFFICER, COMMAND, forward_origin=forwarded_from)  # a member forwarding someone's command
        fake.says(OFFICER, COMMAND, NETWORK_GROUP, is_automatic_forward=True)
        fake.says(OFFICER, COMMAND, via_bot=inline_bot)
        fake.says(OFFICER, "/whoami")  # and the same member, typing, is heard
        await eventually(lambda: any("You are" in s.text for s in fake.sent_to(OFFICER.id)), "the /whoami answer")
        await eventually(lambda: len(bot.refusals()) >= 4, "four refusals recorded")
        assert bot.items() == 0
        assert len(bot.inbox_events()) == 1  # only /whoami
        anon = refused_for(bot, "anonymous admin")[0]
        assert anon["actor"] == f"telegram:{NETWORK_GROUP.id}" and anon["channel"] == f"telegram:{NETWORK_GROUP.id}"
        assert len(refused_for(bot, "forwarded")) == 2
        assert refused_for(bot, "via bot")[0]["actor"] == f"telegram:user:{OFFICER.id}"
        assert all("passports" not in str(r) for r in bot.refusals())  # the text is never recorded
        await eventually(lambda: fake.sent_to(NETWORK_GROUP.id), "the explanation in the group")
        assert "anonymous admin" in fake.sent_to(NETWORK_GROUP.id)[0].text
        assert len(fake.sent_to(NETWORK_GROUP.id)) == 1  # one explanation per chat per minute, not one each


async def test_unregistered_groups_and_other_bots_are_not_heard(tmp_path, fake, monkeypatch) -> None:
    elsewhere = fake.world.chat(Chat(-100999, "supergroup", "Somewhere else"))
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, COMMAND, elsewhere)
        fake.says(OFFICER, "/alert@SomeOtherBot to:TH tlp:amber text", NETWORK_GROUP)
        fake.push({"channel_post": fake.world.user_message(None, Chat(-100777, "channel"), COMMAND)})
        fake.says(OFFICER, "just chatting in the group", NETWORK_GROUP)
        fake.says(OFFICER, "/whoami", NETWORK_GROUP)
        await eventually(lambda: any("answered in your direct chat" in s.text for s in fake.sent_to(NETWORK_GROUP.id)),
                         "the answer")
        await eventually(lambda: refused_for(bot, "unregistered chat"), "the refusal recorded")
        assert bot.items() == 0
        assert len(bot.inbox_events()) == 1
        polls = [r for r in fake.requests if r.method == "getUpdates"]
        assert all(r.params["allowed_updates"] == ["message", "edited_message", "callback_query", "chat_join_request"] for r in polls)


async def test_another_bots_commands_in_a_group_get_no_answer(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/roll 2d6", NETWORK_GROUP)           # for a dice bot in the same group
        fake.says(OFFICER, "/rol@LiaisonTestBot", NETWORK_GROUP)  # a typo, addressed to us: answered
        await eventually(lambda: fake.sent_to(NETWORK_GROUP.id), "the answer to the typo")
        assert "Unknown command /rol" in fake.sent_to(NETWORK_GROUP.id)[0].text
        assert len(bot.inbox_events()) == 1
