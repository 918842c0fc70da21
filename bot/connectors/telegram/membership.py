"""Room actions on Telegram (bot.actions.membership.RoomAdmin), through the connector's PTB Bot.

- invite: getChatMember first; someone already in the group is left alone ("joined"). Otherwise
  (after lifting an old ban) an invite link that asks for approval (creates_join_request, valid
  LINK_DAYS) is made, remembered (invite_links.py) and sent to the person in their private chat with
  the bot ("invited"). Its join request is approved for that person only (intake.py); anyone else
  who got hold of the link is declined. Telegram lets a bot write only to people who have started a
  chat with it; for others the action fails and the admin is told.
- remove: the person's links to the group that were never used are revoked (revokeChatInviteLink),
  then banChatMember and unbanChatMember(only_if_banned): out of the group, and free to be invited
  again later.

Telegram cannot list a group's members to a bot; it can only be asked about one person at a time
(getChatMember). So the roster of a Telegram group is what the bot did and what it checked.
Errors are mapped once, by bot.connectors.telegram.errors; a 429 reaches the delivery worker as
RateLimited and the action is retried after retry_after.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from telegram import error as tg

from alerts.identity import ChatRef, Platform
from alerts.membership import PlannedAction, RoomAction
from bot.connectors.telegram.api import TelegramApi
from bot.connectors.telegram.chats import ChatMigrations
from bot.connectors.telegram.connector import TelegramConnector
from bot.connectors.telegram.errors import platform_error
from bot.connectors.telegram.invite_links import InviteLink, InviteLinks, MemoryValues
from bot.connectors.telegram.sender import message_ids
from bot.connectors.errors import PermanentFailure

LINK_DAYS = 7
IN_GROUP = ("creator", "administrator", "member")


class TelegramRoomAdmin:
    platform = Platform.TELEGRAM

    def __init__(self, api: TelegramApi, migrations: ChatMigrations | None = None, *, spacing: float = 0.05,
                 now=lambda: datetime.now(timezone.utc), links: InviteLinks | None = None,  # noqa: ANN001
                 parts_of: Callable[[str], Awaitable[tuple[str, ...]]] | None = None) -> None:
        self._api = api
        self._parts_of = parts_of  # the messages of a copy, as recorded while it was sent (sender.py)
        self._links = links if links is not None else InviteLinks(MemoryValues())
        self._migrations = migrations
        self._spacing = spacing  # seconds between two calls: a bulk run stays under the flood limits
        self._lock = asyncio.Lock()
        self._last = 0.0
        self._now = now

    @classmethod
    def for_connector(cls, connector: TelegramConnector) -> TelegramRoomAdmin:
        return cls(connector._api, connector._migrations,  # noqa: SLF001 - the connector's own PTB session
                   links=connector.invite_links, parts_of=connector.parts_of)

    def _chat(self, action: PlannedAction) -> int:
        chat_id = int(action.room.chat_id)
        return self._migrations.outgoing(chat_id) if self._migrations is not None else chat_id

    async def _call(self, method: str, **kwargs):  # noqa: ANN003, ANN202
        async with self._lock:
            wait = self._last + self._spacing - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self._api.initialize()  # a no-op once done; actions may come before the receive loop starts
                return await getattr(self._api.bot, method)(**kwargs)
            except tg.TelegramError as exc:
                raise platform_error(exc) from exc
            finally:
                self._last = time.monotonic()

    async def _in_group(self, action: PlannedAction, method: str, **kwargs):  # noqa: ANN003, ANN202
        """A call on the group itself. Its refusal ("chat not found", "bot was kicked") is the group's:
        the admin is told to put the bot there, and after a removal that the person may still be in it."""
        try:
            return await self._call(method, **kwargs)
        except PermanentFailure as error:
            where = f"the bot cannot act in {action.room_name} ({action.room})"
            advice = ("add it to the group as an administrator allowed to invite and ban members, or check the "
                      "chat id") if action.action is RoomAction.INVITE else \
                ("if they are in it, remove them there by hand, and add the bot to the group as an administrator "
                 "allowed to invite and ban members")
            raise PermanentFailure(error.code, f"{_detail(error)}: {where}{': ' if action.action is RoomAction.INVITE else '; '}"
                                               f"{advice}") from error

    async def status(self, chat_id: int, user_id: int) -> str | None:
        """The person's status in the group ("member", "left", "kicked", ...); None when Telegram
        does not know them there."""
        try:
            member = await self._call("get_chat_member", chat_id=chat_id, user_id=user_id)
        except PermanentFailure:
            return None
        if member.status == "restricted" and getattr(member, "is_member", False):
            return "member"
        return member.status

    async def invite(self, action: PlannedAction) -> str:
        chat_id, user_id = self._chat(action), action.identity.telegram_id
        status = await self.status(chat_id, user_id)
        if status in IN_GROUP:
            return "joined"
        if status == "kicked":
            await self._in_group(action, "unban_chat_member", chat_id=chat_id, user_id=user_id, only_if_banned=True)
        now = self._now()
        expires = now + timedelta(days=LINK_DAYS)
        # Approval, not member_limit (Telegram takes one or the other): a forwarded link admits nobody else.
        link = await self._in_group(action, "create_chat_invite_link", chat_id=chat_id, creates_join_request=True,
                                    expire_date=expires, name=(action.contact or "liaison")[:32])
        await self._links.add(InviteLink(link.invite_link, chat_id, user_id, expires), now)  # before it is sent
        text = (f"You have been added to <b>{html.escape(action.room_name)}</b> on the liaison network. "
                f"Join with this link; it admits only you, for {LINK_DAYS} days:\n{html.escape(link.invite_link)}")
        try:
            await self._call("send_message", chat_id=user_id, text=text, parse_mode="HTML", protect_content=True)
        except PermanentFailure as error:  # Telegram lets a bot write only to who started a chat with it
            raise PermanentFailure(error.code, f"{_detail(error)}: they must open a chat with the bot first (send it "
                                               "/start), then /member add them again") from error
        return "invited"

    async def remove(self, action: PlannedAction) -> None:
        chat_id, user_id = self._chat(action), action.identity.telegram_id
        for unused in await self._links.of_person(chat_id, user_id):
            try:
                await self._call("revoke_chat_invite_link", chat_id=chat_id, invite_link=unused.link)
            except PermanentFailure:
                pass  # expired or revoked already: it admits nobody either way
            await self._links.forget(unused.link)
        await self._in_group(action, "ban_chat_member", chat_id=chat_id, user_id=user_id, revoke_messages=False)
        await self._in_group(action, "unban_chat_member", chat_id=chat_id, user_id=user_id, only_if_banned=True)

    async def remove_message(self, chat: ChatRef, message_id: str, reason: str) -> None:
        """bot.actions.membership.RoomAdmin: deleteMessage, of every message of the copy the bot sent
        as `message_id` (its photos and files, its text's parts: recorded as they were sent), else of
        that one message. In a group a bot may delete others' messages only as an administrator with
        can_delete_messages; otherwise Telegram answers "message can't be deleted". Any message only
        for 48 hours after it was sent: then "message can't be deleted for everyone" (too-old). A
        message already gone ("not found") is not an error, so a retry after a failure part-way
        deletes the rest."""
        parts = await self._parts_of(message_id) if self._parts_of is not None else ()
        for part in message_ids(parts, message_id):
            await self._delete(chat, part)

    async def _delete(self, chat: ChatRef, message_id: str) -> None:
        chat_part, _, number = message_id.rpartition(":")
        chat_id = int(chat_part or chat.chat_id)
        if self._migrations is not None:
            chat_id = self._migrations.outgoing(chat_id)
        try:
            await self._call("delete_message", chat_id=chat_id, message_id=int(number))
        except PermanentFailure as error:
            detail = str(error).lower()
            if "not found" in detail:
                return
            if "for everyone" in detail:  # Telegram's answer past the 48 hours it allows a bot
                raise PermanentFailure("too-old", "the message is older than Telegram lets a bot delete") from error
            if error.code == "forbidden" or "can't be deleted" in detail or "not enough rights" in detail:
                raise PermanentFailure("not-allowed", "the bot may not delete messages in this group") from error
            raise


def _detail(error: PermanentFailure) -> str:
    """What the platform said, without the code the error's text starts with (it is kept as the code)."""
    return str(error).removeprefix(f"{error.code}: ")
