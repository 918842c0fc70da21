"""Identities of chats, users and platform messages as value objects that round-trip through strings.

    matrix:@alice:example.org    matrix user        matrix:!abc:example.org   matrix room
    telegram:user:42             telegram user      telegram:-100123          telegram chat
    console:alice                console user       console:#network          console room
                                                    console:@alice            console direct chat
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from alerts.errors import InvalidValue


class Platform(enum.Enum):
    MATRIX = "matrix"
    TELEGRAM = "telegram"
    CONSOLE = "console"


def _split(text: str, what: str, example: str) -> tuple[Platform, str]:
    platform_name, sep, rest = text.partition(":")
    try:
        platform = Platform(platform_name.strip().lower())
    except ValueError:
        raise InvalidValue(what, text, "matrix:…, telegram:…, console:…", example) from None
    if not sep or not rest:
        raise InvalidValue(what, text, "PLATFORM:ID", example)
    return platform, rest


_MATRIX_USER = re.compile(r"^@[^:\s]+:[^\s]+$")
# Room version 12 ids (Synapse's default since 1.135) are a bare hash with no ":server" part.
_MATRIX_ROOM = re.compile(r"^![^:\s]+(?::[^\s]+)?$")
_TELEGRAM_CHAT = re.compile(r"^-?\d+$")
_TELEGRAM_USER = re.compile(r"^user:\d+$")
_CONSOLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True, order=True)
class UserRef:
    """A person's account on one platform."""

    platform: Platform
    user_id: str

    @classmethod
    def parse(cls, text: str) -> UserRef:
        example = "matrix:@alice:example.org, telegram:user:42 or console:alice"
        platform, rest = _split(text.strip(), "User", example)
        ok = {
            Platform.MATRIX: _MATRIX_USER.match(rest),
            Platform.TELEGRAM: _TELEGRAM_USER.match(rest),
            Platform.CONSOLE: _CONSOLE_NAME.match(rest),
        }[platform]
        if not ok:
            raise InvalidValue("User", text, "a platform user id", example)
        return cls(platform, rest)

    @property
    def telegram_id(self) -> int:
        if self.platform is not Platform.TELEGRAM:
            raise ValueError(f"{self} is not a Telegram user")
        return int(self.user_id.removeprefix("user:"))

    def direct_chat(self) -> ChatRef | None:
        """The chat that is this user's direct chat with the bot, where the platform names it."""
        if self.platform is Platform.TELEGRAM:
            return ChatRef(Platform.TELEGRAM, str(self.telegram_id))
        if self.platform is Platform.CONSOLE:
            return ChatRef(Platform.CONSOLE, "@" + self.user_id)
        return None  # Matrix direct rooms are created on demand by the connector.

    def __str__(self) -> str:
        return f"{self.platform.value}:{self.user_id}"


@dataclass(frozen=True, slots=True, order=True)
class ChatRef:
    """A room, group or direct chat on one platform."""

    platform: Platform
    chat_id: str

    @classmethod
    def parse(cls, text: str) -> ChatRef:
        example = "matrix:!abc:example.org, telegram:-100123 or console:#network"
        platform, rest = _split(text.strip(), "Chat", example)
        ok = {
            Platform.MATRIX: _MATRIX_ROOM.match(rest),
            Platform.TELEGRAM: _TELEGRAM_CHAT.match(rest),
            Platform.CONSOLE: rest[:1] in ("#", "@") and _CONSOLE_NAME.match(rest[1:]),
        }[platform]
        if not ok:
            raise InvalidValue("Chat", text, "a platform chat id", example)
        return cls(platform, rest)

    @property
    def is_direct(self) -> bool | None:
        """True for a known direct chat, False for a known group, None where only the platform knows."""
        if self.platform is Platform.CONSOLE:
            return self.chat_id.startswith("@")
        if self.platform is Platform.TELEGRAM:
            return not self.chat_id.startswith("-")
        return None

    def __str__(self) -> str:
        return f"{self.platform.value}:{self.chat_id}"


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message as the platform names it (a Matrix event id, a Telegram chat and message id)."""

    chat: ChatRef
    message_id: str

    def __str__(self) -> str:
        return f"{self.chat}/{self.message_id}"
