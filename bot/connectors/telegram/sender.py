"""Sending to Telegram within its limits: HTML, split parts, protected content, buttons, retry-after.

Every request that posts a message waits for bot.connectors.ratelimit first (per chat about 1 a second, per
group 20 a minute, 30 a second overall), so that in normal operation Telegram never answers 429.
Should it anyway, the chat is held for the retry-after it names and the send raises RateLimited,
so the delivery worker reschedules that outbox row only; no other chat waits.

A send that may repeat an earlier one (its outcome was never recorded) opens with the line
"(possible repeat of an earlier send)". One outbox row may become several messages: its photos and
files, then its text (unless it fits the first one's caption), and a long text in parts. Each message
sent is recorded with the row before the next is sent (SentParts: the outbox's platform_parts), so a
retry, after a failure or a restart in the middle, goes on where it stopped instead of repeating the
first ones, and the messages already sent are never forgotten. The platform message id returned is
"<chat id>:<message id>" of the message the copy is known by (where its banner and text begin: the
text's first part, or the photo it is the caption of), which the delivery worker stores. A reply to
any message recorded with it (Outbox.sent_by_message) is a reply to the copy; taking the copy back
(membership.py) or marking it superseded (`supersede`) reaches every one of them.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Awaitable, Callable, Protocol

from alerts.identity import ChatRef, UserRef
from alerts.messages import Attachment, MessageKind
from alerts.routing import DestinationKind
from bot.connectors.base import POSSIBLE_REPEAT, Outgoing
from bot.connectors.telegram.api import TelegramApi
from alerts.pressed import ButtonState
from bot.connectors.telegram.buttons import approval_keyboard, delivery_keyboard, with_buttons_footer
from bot.connectors.telegram.chats import ChatMigrations
from bot.connectors.telegram.errors import ChatMoved
from bot.connectors.telegram.formatting import LIMIT, html_parts
from bot.connectors.errors import PermanentFailure, RateLimited, TransientFailure, UnknownOutcome
from bot.connectors.ratelimit import Rate, RateLimiter

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024  # Telegram's limit for a photo's or file's caption; a longer text follows it
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})  # sent as photos (shown inline); the rest as files
_REMEMBERED = 1000  # outbox keys whose progress (parts sent, unknown outcomes) is kept
_MESSAGE_ID = re.compile(r"-?\d{1,20}:\d{1,20}")  # "chat:message", as this module makes it


class SentParts(Protocol):
    """Where the messages one outbox row became are recorded (bot.connectors.telegram.store)."""

    async def record_parts(self, key: str, parts: Sequence[str]) -> None: ...

    async def parts_sent(self, key: str) -> tuple[str, ...]: ...


def message_ids(parts: Sequence[str], known_by: str) -> list[str]:
    """The messages of a copy known by `known_by`: those recorded with it (`parts`) that are well
    formed, in the order sent, each once, and `known_by` among them (last, where it was not)."""
    return list(dict.fromkeys([*(part for part in parts if _MESSAGE_ID.fullmatch(part)), known_by]))


def telegram_limiter() -> RateLimiter:
    """Telegram's published limits. Groups may burst a little (a split message); one chat may not."""
    return RateLimiter(shared=Rate(30, 1.0), keyed={"chat": Rate(1, 1.0), "group": Rate(20, 60.0, burst=3)})


def chat_id_of(message: Outgoing) -> int:
    """A direct destination is the person's private chat, whose id is their user id."""
    address = message.destination.address
    if message.destination.kind is DestinationKind.DIRECT:
        assert isinstance(address, UserRef)
        return address.telegram_id
    assert isinstance(address, ChatRef)
    return int(address.chat_id)


class TelegramSender:
    def __init__(self, api: TelegramApi, limiter: RateLimiter, migrations: ChatMigrations,
                 parts: SentParts | None = None) -> None:
        self._api = api
        self._limiter = limiter
        self._migrations = migrations
        self._parts = parts  # None: remembered in memory only (a restart mid-send sends the row whole again)
        # Told when a send finds its group moved; the connector records and persists the move.
        self.on_migrated: Callable[[int, int], Awaitable[None]] | None = None
        self._progress: OrderedDict[str, list[str]] = OrderedDict()  # key -> messages sent, "chat:message"
        self._unknown: OrderedDict[str, None] = OrderedDict()
        self.unknown_outcomes = 0  # sends that timed out after leaving: they may have arrived twice

    async def send(self, message: Outgoing) -> str:
        """Every message of the row, from the first not sent yet; the id of the one the copy is known by
        (its text's first part, or the photo whose caption the text is), "chat:message"."""
        if message.kind is MessageKind.BUTTONS:
            return await self.show_outcome(message)
        chat_id = chat_id_of(message)
        sent = await self._sent_before(message)
        # Telegram cannot tell a repeat from a new message: one whose earlier send may have arrived says so.
        steps, known_by = _steps(message, marked=message.possible_repeat and not sent)
        reply_to = _reply_target(message, chat_id)
        target = _chat_of(sent[-1]) if sent else chat_id
        if len(steps) > 1 and len(sent) >= len(steps):  # all went before: their record may not have
            await self._record(message.key, sent)
        for index in range(len(sent), len(steps)):
            step = steps[index]
            try:
                if step.attachment is not None:
                    attachment = step.attachment
                    target, message_id = await self.post_file(
                        target, attachment.data or b"", attachment.name, photo=attachment.mime in PHOTO_TYPES,
                        caption=step.html, protect=message.protect_content, markup=step.markup,
                        reply_to=reply_to if index == 0 else None)
                else:
                    target, message_id = await self.post(
                        target, step.html or "", protect=message.protect_content, markup=step.markup,
                        reply_to=reply_to if index == 0 else None)
            except UnknownOutcome:
                self._count_unknown(message.key)
                raise
            sent.append(f"{target}:{message_id}")
            self._remember(self._progress, message.key, sent)
            if len(steps) > 1:
                await self._record(message.key, sent)
        self._progress.pop(message.key, None)
        self._unknown.pop(message.key, None)
        return sent[known_by]

    async def _sent_before(self, message: Outgoing) -> list[str]:
        """The messages of this row sent already: remembered, or, after a restart, as recorded (a row
        leased for the first time has none)."""
        remembered = self._progress.get(message.key)
        if remembered is not None:
            return remembered
        if self._parts is None or message.attempt <= 1:
            return []
        try:
            recorded = await self._parts.parts_sent(message.key)
        except Exception as error:  # the database: sending on could repeat what is there
            raise TransientFailure("parts-unknown", "the parts sent before could not be read") from error
        return [part for part in recorded if _MESSAGE_ID.fullmatch(part)]

    async def _record(self, key: str, sent: list[str]) -> None:
        """Recorded before the next is sent: a restart goes on after it, and taking the copy back finds it."""
        if self._parts is None:
            return
        try:
            await self._parts.record_parts(key, tuple(sent))
        except Exception as error:  # remembered here: a retry goes on after it, and records it then
            raise TransientFailure("parts-not-recorded", "the parts sent could not be recorded") from error

    async def post_file(self, chat_id: int, data: bytes, name: str, *, photo: bool, caption: str | None,
                        protect: bool, markup: Any = None, reply_to: int | None = None) -> tuple[int, int]:
        """One photo or file, within the limits; (chat id it went to, message id). Follows a group's move."""
        return await self._following(chat_id, lambda target: self._api.send_file(
            target, data, name, photo=photo, caption=caption, protect=protect, markup=markup, reply_to=reply_to))

    async def show_outcome(self, message: Outgoing) -> str:
        """A BUTTONS row: the pressed message's buttons become what the command did. Editing is
        idempotent, so a retry (after a 429 or a lost answer) is safe; a message that is gone or
        already shows it is done."""
        state = ButtonState.from_json(message.text)
        chat, _, number = state.message_id.rpartition(":")
        try:
            await self.edit_markup(int(chat), int(number), delivery_keyboard(state.reference, state))
        except PermanentFailure as failure:
            said = str(failure).lower()
            if "not modified" in said:
                return f"buttons:{state.message_id}"
            if failure.code == "bad-request" and ("not found" in said or "can't be edited" in said):
                log.info("buttons of a message could not be edited any more (%s)", failure.code)
                return f"buttons-gone:{state.message_id}"
            raise
        return f"buttons:{state.message_id}"

    async def rewrite(self, message_id: str, text: str) -> None:
        """The bot's own message `message_id` ("chat:message") now reads `text`, without its buttons:
        editMessageText, or editMessageCaption where it is a photo or a file (Telegram says it has no
        text). Already reading so (a retry after a lost answer) is done. Any other refusal (the
        message is gone, or cannot be edited) is a PermanentFailure."""
        chat, _, number = message_id.rpartition(":")
        if not chat.lstrip("-").isdigit() or not number.isdigit():
            raise PermanentFailure("bad-message-id", "not a Telegram message id")
        html = html_parts(text, CAPTION_LIMIT)[0]  # short: fits a caption as well as a text
        target = self._migrations.outgoing(int(chat))
        try:
            try:
                await self._edit_with(target, lambda: self._api.edit_message(target, int(number), html))
            except PermanentFailure as failure:
                if "no text in the message" not in str(failure).lower():
                    raise
                await self._edit_with(target, lambda: self._api.edit_caption(target, int(number), html))
        except PermanentFailure as failure:
            if "not modified" not in str(failure).lower():
                raise

    async def supersede(self, message_id: str, parts: Sequence[str], text: str) -> None:
        """The copy known by `message_id` now reads `text` there (rewrite), and its other messages (its
        photos, its text's further parts: `parts`, as recorded with it) are deleted first, so that
        nothing of it reads as current; where Telegram no longer lets them be deleted (after 48 hours)
        they are edited to read `text` too. One gone already is done."""
        for part in message_ids(parts, message_id):
            if part != message_id:
                await self._retire(part, text)
        await self.rewrite(message_id, text)

    async def _retire(self, message_id: str, text: str) -> None:
        chat, _, number = message_id.rpartition(":")
        target = self._migrations.outgoing(int(chat))
        try:
            await self._edit_with(target, lambda: self._api.delete_message(target, int(number)))
            return
        except PermanentFailure as failure:
            said = str(failure).lower()
            if "not found" in said:
                return
            if "can't be deleted" not in said:
                raise
        try:
            await self.rewrite(message_id, text)
        except PermanentFailure as failure:
            if "not found" not in str(failure).lower():
                raise

    async def _edit_with(self, target: int, edit: Callable[[], Awaitable[None]]) -> None:
        await self._acquire(target)
        try:
            await edit()
        except RateLimited as limited:
            self._limiter.hold(limited.retry_after or 1.0, chat=target)
            raise

    async def edit_markup(self, chat_id: int, message_id: int, markup: Any) -> None:
        target = self._migrations.outgoing(chat_id)
        await self._acquire(target)
        try:
            await self._api.edit_markup(target, message_id, markup)
        except RateLimited as limited:
            self._limiter.hold(limited.retry_after or 1.0, chat=target)
            raise

    async def post(self, chat_id: int, html: str, *, protect: bool = False, markup: Any = None,
                   reply_to: int | None = None) -> tuple[int, int]:
        """One message within the limits; (chat id it went to, message id). Follows a group's move."""
        return await self._following(chat_id, lambda target: self._api.send_message(
            target, html, protect=protect, markup=markup, reply_to=reply_to))

    async def _following(self, chat_id: int, send: Callable[[int], Awaitable[int]]) -> tuple[int, int]:
        """`send` to the chat within the limits, following a group that moved (at most three times)."""
        for _ in range(3):
            target = self._migrations.outgoing(chat_id)
            await self._acquire(target)
            try:
                return target, await send(target)
            except ChatMoved as moved:
                if self.on_migrated is not None:
                    await self.on_migrated(target, moved.new_chat_id)
                else:
                    self._migrations.add(target, moved.new_chat_id)
            except RateLimited as limited:
                self._limiter.hold(limited.retry_after or 1.0, chat=target)
                raise
        raise PermanentFailure("chat-migrated", "the chat kept moving")

    async def edit(self, chat_id: int, message_id: int, html: str, markup: Any = None) -> None:
        target = self._migrations.outgoing(chat_id)
        await self._acquire(target)
        try:
            await self._api.edit_message(target, message_id, html, markup)
        except RateLimited as limited:
            self._limiter.hold(limited.retry_after or 1.0, chat=target)
            raise

    async def _acquire(self, chat_id: int) -> None:
        if chat_id < 0:
            await self._limiter.acquire(chat=chat_id, group=chat_id)
        else:
            await self._limiter.acquire(chat=chat_id)

    def _count_unknown(self, key: str) -> None:
        """Telegram cannot tell a repeat from a new message: retry once with the same key, then stop."""
        self.unknown_outcomes += 1
        if key in self._unknown:
            log.warning("send %s timed out again after leaving; not retried (it may have arrived)", key)
            self._unknown.pop(key, None)
            raise PermanentFailure("unknown-outcome", "timed out twice after sending; it may have arrived")
        log.warning("send %s timed out after leaving; retried once with the same key", key)
        self._remember(self._unknown, key, None)

    @staticmethod
    def _remember(store: OrderedDict, key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > _REMEMBERED:
            store.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _Step:
    """One message of a row: a photo or file (with its caption, if any), or a text part."""

    html: str | None
    markup: Any = None
    attachment: Attachment | None = None


def _steps(message: Outgoing, *, marked: bool) -> tuple[list[_Step], int]:
    """The messages `message` is sent as, and which of them the copy is known by (where its banner
    and text begin). Photos and files first, the text as the first one's caption where it fits (1024
    characters), else as the text message(s) after them. The layout leaves room for the repeat line
    whether or not it is there, so a send resumed after a restart splits it as the first attempt did."""
    markup = (delivery_keyboard(message.reference)
              if message.kind is MessageKind.DELIVERY and message.reference else None)
    text = with_buttons_footer(message.text, message.reference) if markup is not None and message.reference \
        else message.text
    if message.kind is MessageKind.APPROVAL and message.reference and not message.attachments:
        markup = approval_keyboard(message.reference)  # its text keeps every hint: it is not a delivery
    room = len(POSSIBLE_REPEAT) + 1

    def mark(html: str) -> str:
        return f"{escape(POSSIBLE_REPEAT)}\n{html}" if marked else html

    if not message.attachments:
        parts = html_parts(text, LIMIT - room)
        return [_Step(mark(part) if n == 0 else part, markup if n == len(parts) - 1 else None)
                for n, part in enumerate(parts)], 0
    captions = html_parts(text, CAPTION_LIMIT - room)
    if len(captions) == 1:
        files = [_Step(mark(captions[0]) if n == 0 else None, markup if n == 0 else None, attachment)
                 for n, attachment in enumerate(message.attachments)]
        return files, 0
    files = [_Step(None, None, attachment) for attachment in message.attachments]
    parts = html_parts(text, LIMIT - room)
    texts = [_Step(mark(part) if n == 0 else part, markup if n == len(parts) - 1 else None)
             for n, part in enumerate(parts)]
    return files + texts, len(files)


def _chat_of(message_id: str) -> int:
    return int(message_id.rpartition(":")[0])


def _reply_target(message: Outgoing, chat_id: int) -> int | None:
    """The message id to reply to, when the outbox row names one in the same chat ("chat:message")."""
    ref = message.reply_to
    if ref is None:
        return None
    chat, _, number = ref.message_id.rpartition(":")
    if chat and chat != str(chat_id) or not number.isdigit():
        return None
    return int(number)
