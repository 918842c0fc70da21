"""Who may give the bot a command on Telegram, beyond the directory check the dispatcher makes.

A command is taken only from a person Telegram names (message.from_user, not a bot), writing as
themselves, in their private chat with the bot or in a group registered in the directory. Never
a command source, whatever the text says:
- anonymous group admins and posts "as" a channel or group (sender_chat set): nobody is named;
- channel posts (not even requested: allowed_updates leaves them out); an edited message is read as the
  message it now is, under these same rules, and marked an edit (the dispatcher decides what it means);
- forwards, manual (forward_origin) and automatic (a linked channel's post): the text is someone
  else's, possibly from long ago;
- messages sent via an inline bot (via_bot): the text was composed by that bot.
"""

from __future__ import annotations

import re

from telegram import Message

ANONYMOUS = "anonymous admin"
FORWARDED = "forwarded"
VIA_BOT = "via bot"
NOT_A_PERSON = "not a person"
UNREGISTERED = "unregistered chat"

ANSWERS = {
    ANONYMOUS: "I cannot take commands from an anonymous admin: I cannot tell who sent them. "
               "Turn off \"Remain anonymous\" for yourself, or write to me in a private chat.",
    FORWARDED: "I do not take forwarded commands: type the command yourself.",
    VIA_BOT: "I do not take commands sent via another bot: type the command yourself.",
    UNREGISTERED: "This chat is not registered with the network, so I take no commands here. "
                  "Write to me in a private chat, or ask an admin to register this group.",
}

_COMMAND = re.compile(r"^\s*[/!]([A-Za-z][A-Za-z0-9_-]*)(?:@([A-Za-z0-9_]+))?(?=\s|$)")


def untrusted_reason(message: Message) -> str | None:
    """Why this message can never be a command source, or None when it may be one."""
    if message.sender_chat is not None:
        return ANONYMOUS
    if message.forward_origin is not None or message.is_automatic_forward:
        return FORWARDED
    if message.via_bot is not None:
        return VIA_BOT
    if message.from_user is None or message.from_user.is_bot:
        return NOT_A_PERSON
    return None


def command_word(text: str | None, bot_username: str) -> str | None:
    """The command word (lower case) when the text is a command for this bot; None for chatter and
    for `/cmd@OtherBot`, which another bot in the group should answer."""
    if not text:
        return None
    match = _COMMAND.match(text)
    if match is None:
        return None
    addressed = match[2]
    if addressed and bot_username and addressed.lower() != bot_username.lower():
        return None
    return match[1].lower()


def addressed_to_us(text: str, bot_username: str) -> bool:
    """True for `/cmd@ThisBot`: someone named this bot, not just any bot in the group."""
    match = _COMMAND.match(text or "")
    return bool(match and match[2] and bot_username and match[2].lower() == bot_username.lower())


def is_bare(text: str) -> bool:
    """True for `/alert` or `/alert@Bot` with nothing after it."""
    match = _COMMAND.match(text)
    return match is not None and not text[match.end():].strip()
