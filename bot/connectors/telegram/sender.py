"""Sending to Telegram within its limits: HTML, split parts, protected content, buttons, retry-after.

Every request that posts a message waits for bot.connectors.ratelimit first (per chat about 1 a second, per
group 20 a minute, 30 a second overall), so that in normal operation Telegram never answers 429.
Should it anyway, the chat is held for the retry-after it names and the send raises RateLimited,
so the delivery worker reschedules that outbox row only; no other chat waits.

A send that may repeat an earlier one (its outcome was never recorded) opens with the line
"(possible repeat of an earlier send)". A long message goes out as several parts; the parts already sent are remembered by outbox key, so
a retry after a failure in the middle continues where it stopped instead of repeating part one.
The platform message id returned is "<chat id>:<message id>" of the first part, which is what the
delivery worker stores and ItemRepository.delivery_by_message finds again for a reply.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from html import escape
from typing import Any, Awaitable, Callable

from alerts.identity import ChatRef, UserRef
from alerts.messages import MessageKind
from alerts.routing import DestinationKind
from bot.connectors.base import POSSIBLE_REPEAT, Outgoing
from bot.connectors.telegram.api import TelegramApi
from alerts.pressed import ButtonState
from bot.connectors.telegram.buttons import approval_keyboard, delivery_keyboard, with_buttons_footer
from bot.connectors.telegram.chats import ChatMigrations
from bot.connectors.telegram.errors import ChatMoved
from bot.connectors.telegram.formatting import LIMIT, html_parts
from bot.connectors.errors import PermanentFailure, RateLimited, UnknownOutcome
from bot.connectors.ratelimit import Rate, RateLimiter

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024  # Telegram's limit for a photo's or file's caption; a longer text follows it
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})  # sent as photos (shown inline); the rest as files
_REMEMBERED = 1000  # outbox keys whose progress (parts sent, unknown outcomes) is kept


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
    def __init__(self, api: TelegramApi, limiter: RateLimiter, migrations: ChatMigrations) -> None:
        self._api = api
        self._limiter = limiter
        self._migrations = migrations
        # Told when a send finds its group moved; the connector records and persists the move.
        self.on_migrated: Callable[[int, int], Awaitable[None]] | None = None
        self._progress: OrderedDict[str, tuple[int, list[int]]] = OrderedDict()
        self._unknown: OrderedDict[str, None] = OrderedDict()
        self.unknown_outcomes = 0  # sends that timed out after leaving: they may have arrived twice

    async def send(self, message: Outgoing) -> str:
        if message.kind is MessageKind.BUTTONS:
            return await self.show_outcome(message)
        chat_id = chat_id_of(message)
        if message.attachments:
            return await self._send_with_files(message, chat_id)
        target, sent = self._progress.get(message.key, (chat_id, []))
        # Telegram cannot tell a repeat from a new message: one whose earlier send may have arrived says so.
        marked = message.possible_repeat and not sent
        markup = (delivery_keyboard(message.reference)
                  if message.kind is MessageKind.DELIVERY and message.reference else None)
        text = with_buttons_footer(message.text, message.reference) if markup is not None and message.reference \
            else message.text
        if message.kind is MessageKind.APPROVAL and message.reference:
            markup = approval_keyboard(message.reference)  # its text keeps every hint: it is not a delivery
        parts = html_parts(text, LIMIT - len(POSSIBLE_REPEAT) - 1 if marked else LIMIT)
        if marked:
            parts[0] = f"{escape(POSSIBLE_REPEAT)}\n{parts[0]}"
        reply_to = _reply_target(message, chat_id)
        for index in range(len(sent), len(parts)):
            last = index == len(parts) - 1
            try:
                target, message_id = await self.post(
                    target, parts[index], protect=message.protect_content, markup=markup if last else None,
                    reply_to=reply_to if index == 0 else None)
            except UnknownOutcome:
                self._count_unknown(message.key)
                raise
            sent.append(message_id)
            self._remember(self._progress, message.key, (target, sent))
        self._progress.pop(message.key, None)
        self._unknown.pop(message.key, None)
        return f"{target}:{sent[0]}"

    async def _send_with_files(self, message: Outgoing, chat_id: int) -> str:
        """The photos and files, each a message, the text as the first one's caption where it fits
        (1024 characters), else as the text message(s) after them. Steps already sent are not sent again."""
        target, sent = self._progress.get(message.key, (chat_id, []))
        marked = message.possible_repeat and not sent
        markup = (delivery_keyboard(message.reference)
                  if message.kind is MessageKind.DELIVERY and message.reference else None)
        text = with_buttons_footer(message.text, message.reference) if markup is not None and message.reference \
            else message.text
        if marked:
            text = f"{POSSIBLE_REPEAT}\n{text}"
        captions = html_parts(text, CAPTION_LIMIT)
        caption = captions[0] if len(captions) == 1 else None
        parts = [] if caption is not None else html_parts(text, LIMIT)
        reply_to = _reply_target(message, chat_id)
        steps = len(message.attachments) + len(parts)
        for index in range(len(sent), steps):
            last = index == steps - 1
            try:
                if index < len(message.attachments):
                    attachment = message.attachments[index]
                    first = index == 0
                    target, message_id = await self.post_file(
                        target, attachment.data or b"", attachment.name, photo=attachment.mime in PHOTO_TYPES,
                        caption=caption if first else None, protect=message.protect_content,
                        markup=markup if first and caption is not None else None,
                        reply_to=reply_to if first else None)
                else:
                    target, message_id = await self.post(
                        target, parts[index - len(message.attachments)], protect=message.protect_content,
                        markup=markup if last else None)
            except UnknownOutcome:
                self._count_unknown(message.key)
                raise
            sent.append(message_id)
            self._remember(self._progress, message.key, (target, sent))
        self._progress.pop(message.key, None)
        self._unknown.pop(message.key, None)
        return f"{target}:{sent[0]}"

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


def _reply_target(message: Outgoing, chat_id: int) -> int | None:
    """The message id to reply to, when the outbox row names one in the same chat ("chat:message")."""
    ref = message.reply_to
    if ref is None:
        return None
    chat, _, number = ref.message_id.rpartition(":")
    if chat and chat != str(chat_id) or not number.isdigit():
        return None
    return int(number)
