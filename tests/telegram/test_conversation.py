"""On Telegram: a command sent without its text takes the next message as its text; an edited command;
a stranger's refusal goes to their private chat, never to the group."""

from __future__ import annotations

import logging
import re
import time

from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.support import MY_NPOC, NETWORK_GROUP, OFFICER, STRANGER, TH_NPOC, eventually, meet, relaxed, running_bot

PROMPT = "Send the text of your alert now, or /cancel."


def edit(fake: FakeBotApi, chat_id: int, message_id: int, text: str) -> None:
    """The sender edits their message: Telegram sends it again as edited_message, with the same id."""
    message = dict(fake.world.user_messages[(chat_id, message_id)])
    message.update({"text": text, "edit_date": int(time.time())})
    message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    fake.push({"edited_message": message})


def texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [s.text for s in fake.sent_to(chat_id)]


async def test_an_alert_in_two_messages_is_sent_once_with_its_text(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/alert to:TH tlp:amber topic:document-fraud")
        await eventually(lambda: any(t.startswith(PROMPT) for t in texts(fake, OFFICER.id)), "the prompt")
        fake.says(OFFICER, "Two travellers with altered passports, flight XX123")
        await eventually(lambda: any("accepted (TLP:AMBER" in t for t in texts(fake, OFFICER.id)), "the receipt")
        await eventually(lambda: any("Two travellers with altered passports" in t for t in texts(fake, TH_NPOC.id)),
                         "the delivery, with the text")
        fake.says(OFFICER, "thanks")  # the wait is over: chatter, not recorded
        fake.says(OFFICER, "/whoami")
        await eventually(lambda: any(t.startswith("You are") for t in texts(fake, OFFICER.id)), "the /whoami answer")
        assert bot.items() == 1
        assert len(bot.inbox_events()) == 3  # the command, its text, /whoami: never "thanks"


async def test_in_a_group_only_the_same_persons_next_message_is_the_text(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/alert to:TH", NETWORK_GROUP)
        await eventually(lambda: any(t.startswith(PROMPT) for t in texts(fake, NETWORK_GROUP.id)), "the prompt")
        fake.says(TH_NPOC, "what is this about?", NETWORK_GROUP)
        fake.says(OFFICER, "Boat sighted off Songkhla", NETWORK_GROUP)
        await eventually(lambda: any("accepted" in t for t in texts(fake, NETWORK_GROUP.id)), "the receipt")
        await eventually(lambda: any("Boat sighted off Songkhla" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
        assert bot.items() == 1
        fake.says(OFFICER, "/alert to:TH", NETWORK_GROUP)
        await eventually(lambda: sum(t.startswith(PROMPT) for t in texts(fake, NETWORK_GROUP.id)) == 2, "the prompt")
        fake.says(OFFICER, "/cancel", NETWORK_GROUP)
        await eventually(lambda: "Cancelled: your alert was not sent." in texts(fake, NETWORK_GROUP.id), "cancelled")
        assert bot.items() == 1


async def test_an_edited_command_is_taken_once_refused_and_answered_once_accepted(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/alert to:TH tlp:orange Two travellers")
        message_id = max(m for (chat, m) in fake.world.user_messages if chat == OFFICER.id)
        await eventually(lambda: any("orange" in t for t in texts(fake, OFFICER.id)), "the refusal")
        edit(fake, OFFICER.id, message_id, "/alert to:TH tlp:amber Two travellers")
        await eventually(lambda: any("accepted (TLP:AMBER" in t for t in texts(fake, OFFICER.id)), "the receipt")
        reference = re.search(r"A-\d{4}-\d{4}", next(t for t in texts(fake, OFFICER.id) if "accepted" in t))
        assert reference is not None
        edit(fake, OFFICER.id, message_id, "/alert to:TH tlp:amber Three travellers")
        await eventually(lambda: any(t.startswith(f"Your alert {reference[0]} was already sent")
                                     for t in texts(fake, OFFICER.id)), "the answer to the second edit")
        assert bot.items() == 1
        assert sum("travellers" in t for t in texts(fake, TH_NPOC.id)) == 1


async def test_a_strangers_refusal_goes_to_their_private_chat_never_to_the_group(tmp_path, fake, monkeypatch,
                                                                                caplog) -> None:
    meet(fake, OFFICER, STRANGER)
    never_met = STRANGER.__class__(998, "Trudy")  # never opened a private chat: Telegram lets no bot write first
    caplog.set_level(logging.WARNING)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(STRANGER, "/alert to:TH hello", NETWORK_GROUP)
        fake.says(never_met, "/whoami", NETWORK_GROUP)
        await eventually(lambda: any("not in this network's directory" in t for t in texts(fake, STRANGER.id)),
                         "the refusal, in the stranger's private chat")
        await eventually(lambda: re.search(r"failed for good \([\w-]+\) \[E-", caplog.text), "the failure logged")
        fake.says(OFFICER, "/whoami", NETWORK_GROUP)  # their accounts: for them alone, the group told so
        await eventually(lambda: any(t.startswith("You are") for t in texts(fake, OFFICER.id)), "an answer")
        await eventually(lambda: any("answered in your direct chat" in t for t in texts(fake, NETWORK_GROUP.id)),
                         "the line saying where it went")
        assert not any(t.startswith("You are") for t in texts(fake, NETWORK_GROUP.id))
        assert not any("directory" in t for t in texts(fake, NETWORK_GROUP.id))
        assert bot.items() == 0


async def test_both_messages_read_in_one_batch_make_one_alert(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    fake.says(OFFICER, "/alert to:TH tlp:amber")          # sent while the bot was not running:
    fake.says(OFFICER, "Two travellers, read in one batch")  # both come in the first getUpdates
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        await eventually(lambda: any("accepted (TLP:AMBER" in t for t in texts(fake, OFFICER.id)), "the receipt")
        await eventually(lambda: any("Two travellers, read in one batch" in t for t in texts(fake, TH_NPOC.id)),
                         "the delivery")
        assert bot.items() == 1


async def test_cancel_in_the_private_chat_ends_the_wait_and_the_next_text_is_not_sent(tmp_path, fake,
                                                                                     monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/alert to:TH tlp:amber")
        await eventually(lambda: any(t.startswith(PROMPT) for t in texts(fake, OFFICER.id)), "the prompt")
        fake.says(OFFICER, "/cancel")
        await eventually(lambda: "Cancelled: your alert was not sent." in texts(fake, OFFICER.id), "cancelled")
        fake.says(OFFICER, "Boat sighted, ignore this")  # no longer the alert's text
        fake.says(OFFICER, "/cancel")
        await eventually(lambda: "Nothing to cancel." in texts(fake, OFFICER.id), "nothing left to cancel")
        assert bot.items() == 0
        assert not texts(fake, TH_NPOC.id)


async def test_a_text_that_is_no_command_in_the_private_chat_is_answered_once_not_recorded(tmp_path, fake,
                                                                                          monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC, MY_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(MY_NPOC, b"\xff\xd8photo", None)  # a photo without its command: not lost in silence
        fake.says(OFFICER, "Boat sighted off Songkhla, 40 people")  # typed before its command: sent nowhere
        fake.says(OFFICER, "hello?")
        fake.sends_photo(OFFICER, b"\xff\xd8photo", None)
        await eventually(lambda: any("was not sent to anyone" in t for t in texts(fake, OFFICER.id)), "the answer")
        fake.says(OFFICER, "/whoami")
        await eventually(lambda: any(t.startswith("You are") for t in texts(fake, OFFICER.id)), "the /whoami answer")
        [hint] = [s for s in fake.sent_to(OFFICER.id) if "was not sent to anyone" in s.text]  # once a minute
        assert hint.text.startswith("This message was not sent to anyone")
        assert hint.tappable_commands() == ["/help"]  # /alert to:TH … is shown as code: tapped alone it sends nothing
        assert bot.inbox_events() and len(bot.inbox_events()) == 1  # /whoami only
        assert not texts(fake, TH_NPOC.id)
        await eventually(lambda: texts(fake, MY_NPOC.id), "the answer to the photo")
        assert texts(fake, MY_NPOC.id)[0].startswith("This photo was not sent to anyone: I take only commands")
