"""What the fake Bot API server knows: users, chats, messages and updates, in Telegram's JSON shapes.

Dates are whole seconds since the epoch, users carry is_bot, commands carry a bot_command entity,
message ids count per chat, and HTML sent with parse_mode=HTML is checked and stored as Telegram
would show it (tags gone, entities unescaped), so a test reads what a person would read.

Like Telegram, the server finds the commands in what the bot sends by itself: every "/word" not
inside a <code> or <pre> becomes a bot_command entity, which a person can tap to send that word
alone (Sent.tappable_commands).
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from html import unescape
from typing import Any, Callable

# Telegram lets a bot delete a message only within 48 hours of its sending.
DELETE_WINDOW = 48 * 3600

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
                "span", "blockquote"}
ANONYMOUS_ADMIN_BOT = 1087968824  # Telegram's GroupAnonymousBot


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False

    def json(self) -> dict[str, Any]:
        data = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


@dataclass(frozen=True)
class Chat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        data["title" if self.type != "private" else "first_name"] = self.title or "Chat"
        return data


@dataclass(frozen=True)
class Upload:
    """A file posted in a multipart request (sendPhoto, sendDocument)."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Sent:
    """A message the bot sent, as stored by the server."""

    chat_id: int
    message_id: int
    text: str  # as shown: tags stripped, entities unescaped
    html: str  # as sent
    reply_markup: dict[str, Any] | None = None
    protect_content: bool = False
    reply_to: int | None = None
    edits: list[str] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    markups: list[dict[str, Any] | None] = field(default_factory=list)  # every earlier reply_markup, in order
    media: str | None = None     # "photo" or "document" (sendPhoto, sendDocument); `text` is then the caption
    file: bytes | None = None    # the bytes uploaded
    file_name: str | None = None

    def tappable_commands(self) -> list[str]:
        """The text of every bot_command entity: what tapping it sends."""
        units = self.text.encode("utf-16-le")
        return [units[2 * e["offset"]:2 * (e["offset"] + e["length"])].decode("utf-16-le")
                for e in self.entities if e["type"] == "bot_command"]
    date: float = 0.0  # when the server took it (World.now), for the 48 hours a bot may delete it in

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class InviteLink:
    """An invite link the bot made (ChatInviteLink), as the server keeps it."""

    invite_link: str
    chat_id: int
    creates_join_request: bool
    name: str | None = None
    expire_date: int | None = None
    member_limit: int | None = None
    is_revoked: bool = False

    def json(self, creator: User) -> dict[str, Any]:
        data: dict[str, Any] = {"invite_link": self.invite_link, "creator": creator.json(),
                                "creates_join_request": self.creates_join_request, "is_primary": False,
                                "is_revoked": self.is_revoked}
        for key in ("name", "expire_date", "member_limit"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


class HtmlError(ValueError):
    pass


_TOKEN = re.compile(r'<(/?)([a-z-]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>|&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);|[<>&]')


def shown_text(html: str) -> str:
    """What Telegram shows for parse_mode HTML. Like Telegram, HtmlError ("can't parse entities") for
    an unknown tag, an unbalanced one, or a raw <, > or & that is not part of a tag or an entity."""
    return parse_html(html)[0]


_ENTITY_TYPES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
                 "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
                 "a": "text_link", "code": "code", "pre": "pre", "tg-spoiler": "spoiler", "span": "spoiler",
                 "blockquote": "blockquote"}


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """The text shown for parse_mode HTML and its entities (offsets and lengths in UTF-16 units),
    the tags' own and the bot commands Telegram finds in the rest."""
    out: list[str] = []
    open_tags: list[tuple[str, int]] = []
    entities: list[dict[str, Any]] = []
    position = 0
    length = 0

    def add(piece: str) -> None:
        nonlocal length
        out.append(piece)
        length += utf16_len(piece)

    for match in _TOKEN.finditer(html):
        add(html[position:match.start()])
        position = match.end()
        closing, tag, entity = match[1], match[2], match[4]
        if tag:
            if tag not in ALLOWED_TAGS:
                raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {match.start()}')
            if not closing:
                open_tags.append((tag, length))
            elif not open_tags or open_tags[-1][0] != tag:
                raise HtmlError(f'Can\'t find end tag corresponding to start tag "{tag}"')
            else:
                _, start = open_tags.pop()
                if length > start:
                    entities.append({"type": _ENTITY_TYPES[tag], "offset": start, "length": length - start})
        elif entity:
            add(unescape(match[0]))
        else:
            raise HtmlError(f"Unexpected {match[0]!r} at byte offset {match.start()}")
    add(html[position:])
    if open_tags:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1][0]}"')
    shown = "".join(out)
    return shown, sorted(entities + bot_commands(shown, entities), key=lambda e: (e["offset"], -e["length"]))


# Telegram's rule: "/" not after a word character, "/", "<", ">" or "\\"; 1 to 64 of [A-Za-z0-9_];
# an optional @username of 3 to 32; not followed by a word character, "/", "<", ">" or "\\".
_BOT_COMMAND = re.compile(r"(?<![\w/<>\\])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>\\])")


def bot_commands(text: str, entities: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """The bot_command entities Telegram finds in `text`, except inside code and pre, which hold no others."""
    verbatim = [(e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in ("code", "pre")]
    found = []
    for match in _BOT_COMMAND.finditer(text):
        start = utf16_len(text[:match.start()])
        end = start + utf16_len(match[0])
        if not any(a < end and start < b for a, b in verbatim):
            found.append({"type": "bot_command", "offset": start, "length": end - start})
    return found


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class World:
    """Users, chats, messages and the update queue."""

    def __init__(self, bot: User) -> None:
        self.bot = bot
        self.chats: dict[int, Chat] = {}
        self.messages: dict[tuple[int, int], Sent] = {}
        self.sent: list[Sent] = []
        self.user_messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._message_ids: dict[int, itertools.count] = {}
        self._query_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self.queries: dict[str, dict[str, Any]] = {}
        self.moved: dict[int, int] = {}       # group -> the supergroup it became
        self.blocked: set[int] = set()        # users who blocked the bot
        self.banned: set[tuple[int, int]] = set()
        self.can_delete: set[int] = set()     # groups where the bot is an administrator that may delete messages
        self.deleted: set[tuple[int, int]] = set()
        self.invite_links: dict[str, InviteLink] = {}
        self._link_suffixes = itertools.count(1)
        self.join_requests: set[tuple[int, int]] = set()  # (chat, user) waiting for an administrator
        self.joined: set[tuple[int, int]] = set()         # admitted through an approved request
        self.declined: set[tuple[int, int]] = set()
        self.now: Callable[[], float] = time.time  # the server's clock: a test moves it on to pass the 48 hours
        self.files: dict[str, bytes] = {}     # file id -> bytes, for getFile and the file download
        self._file_ids = itertools.count(1)

    def chat(self, chat: Chat) -> Chat:
        self.chats.setdefault(chat.id, chat)
        return self.chats[chat.id]

    def next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def next_link_suffix(self) -> str:
        return f"x{next(self._link_suffixes)}"

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def user_message(self, user: User | None, chat: Chat, text: str | None, *, reply_to: Sent | None = None,
                     **extra: Any) -> dict[str, Any]:
        self.chat(chat)
        message: dict[str, Any] = {"message_id": self.next_message_id(chat.id), "chat": chat.json(),
                                   "date": int(self.now())}
        if user is not None:
            message["from"] = user.json()
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                word = text.split(maxsplit=1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(word)}]
        if reply_to is not None:
            message["reply_to_message"] = self.bot_message_json(reply_to)
        message.update(extra)
        self.user_messages[(chat.id, message["message_id"])] = message
        return message

    def new_file(self, data: bytes) -> str:
        file_id = f"file-{next(self._file_ids)}"
        self.files[file_id] = data
        return file_id

    def bot_message_json(self, sent: Sent) -> dict[str, Any]:
        data: dict[str, Any] = {"message_id": sent.message_id, "from": self.bot.json(),
                                "chat": self.chats[sent.chat_id].json(), "date": int(sent.date or self.now())}
        if sent.media is None:
            data["text"] = sent.text
        else:
            if sent.text:
                data["caption"] = sent.text
            file = {"file_id": f"sent-{sent.chat_id}-{sent.message_id}", "file_unique_id": f"u{sent.message_id}",
                    "file_size": len(sent.file or b"")}
            data[sent.media] = [{**file, "width": 800, "height": 600}] if sent.media == "photo" else \
                {**file, "file_name": sent.file_name}
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:  # Telegram echoes only these
            data["reply_markup"] = sent.reply_markup
        if sent.protect_content:
            data["has_protected_content"] = True
        return data

    def callback_query(self, user: User, sent: Sent, data: str) -> dict[str, Any]:
        query = {"id": str(next(self._query_ids)), "from": user.json(), "message": self.bot_message_json(sent),
                 "chat_instance": str(sent.chat_id), "data": data}
        self.queries[query["id"]] = {"answered": False, "text": None}
        return query
