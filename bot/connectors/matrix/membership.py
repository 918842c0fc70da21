"""Room actions on Matrix (bot.actions.membership.RoomAdmin), through the connector's nio client.

- invite: the person's m.room.member state first. Joined: left alone ("joined"); invited already:
  nothing to do ("invited"); banned: refused, since a room moderator banned them on purpose and only
  one may lift it; otherwise /invite ("invited": they accept in their client).
- remove: /kick with the action's reason when they are joined or invited (a kick withdraws an
  invite); anyone not there is already out, which is not an error.

Synapse limits invites per room, per inviter and per invitee (rc_invites). Invites are spaced
`invite_spacing` seconds apart, so a bulk run of a few dozen stays inside the default bursts; when
the homeserver still says M_LIMIT_EXCEEDED, the admin's own gate holds every further action back
for retry_after_ms and the action goes back to the delivery worker as RateLimited, which retries
it after that time. Sends are not held back: Synapse counts invites and messages apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nio import AsyncClient, ErrorResponse, RoomGetStateEventResponse

from alerts.identity import ChatRef, Platform, UserRef
from alerts.membership import PlannedAction
from bot.connectors.matrix import media
from bot.connectors.matrix.errors import from_exception, from_response
from bot.connectors.matrix.gate import RateGate
from bot.connectors.matrix.model import PartsOf
from bot.connectors.matrix.sansio.outbound import known_by_text
from bot.connectors.errors import NotConnected, PermanentFailure, PlatformError, RateLimited

INVITE_SPACING = 1.0  # seconds between two invites


class MatrixRoomAdmin:
    platform = Platform.MATRIX

    def __init__(self, client_of: Callable[[], AsyncClient | None], *, invite_spacing: float = INVITE_SPACING,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 direct_rooms: Callable[[str], str | None] | None = None,
                 parts_of: PartsOf | None = None) -> None:
        self._client_of = client_of  # the connector's client, which is replaced when it logs in again
        self._direct_rooms = direct_rooms  # the connector's direct chats, by user id
        self._parts_of = parts_of  # the events of a copy, as recorded while it was sent (sending.py)
        self._spacing = invite_spacing
        self._clock = clock
        self._sleep = sleep
        self._gate = RateGate(clock)
        self._lock = asyncio.Lock()
        self._last_invite = float("-inf")

    @classmethod
    def for_connector(cls, connector: Any, **options: Any) -> MatrixRoomAdmin:
        return cls(lambda: connector.client, direct_rooms=connector.direct.known, parts_of=connector.sender.parts,
                   **options)

    def direct_chat(self, user: UserRef) -> ChatRef | None:
        """bot.actions.removal.remove: the bot's direct chat with `user`, as the connector knows it."""
        room_id = self._direct_rooms(user.user_id) if self._direct_rooms is not None else None
        return ChatRef(Platform.MATRIX, room_id) if room_id else None

    def _client(self) -> AsyncClient:
        client = self._client_of()
        if client is None or not client.access_token:
            raise NotConnected("not-connected", "matrix")
        return client

    async def _call(self, make: Callable[[AsyncClient], Awaitable[Any]], what: str) -> Any:
        await self._gate.wait()
        try:
            response = await make(self._client())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise from_exception(exc, what, request_sent=True) from exc
        if isinstance(response, ErrorResponse):
            error = from_response(response, what)
            if isinstance(error, RateLimited):
                self._gate.block(error.retry_after or 0.0)
            raise error
        return response

    async def membership(self, room_id: str, user_id: str) -> str | None:
        """The user's membership in the room ("join", "invite", "leave", "ban", ...); None when they
        never had one."""
        try:
            response = await self._call(lambda c: c.room_get_state_event(room_id, "m.room.member", user_id),
                                        "member state")
        except PlatformError as error:  # by the Matrix code: a 404 without its HTTP status is still a 404
            if error.code == "M_NOT_FOUND":
                return None
            if error.code == "M_FORBIDDEN":
                raise PermanentFailure("not-in-room", f"the bot cannot see {room_id}'s members: "
                                                      "invite the bot to the room") from error
            raise
        assert isinstance(response, RoomGetStateEventResponse)
        return (response.content or {}).get("membership")

    async def invite(self, action: PlannedAction) -> str:
        room_id, user_id = action.room.chat_id, action.identity.user_id
        async with self._lock:  # one membership action at a time, so the spacing holds across rooms
            state = await self.membership(room_id, user_id)
            if state == "join":
                return "joined"
            if state == "invite":
                return "invited"
            if state == "ban":
                raise PermanentFailure("banned", f"{user_id} is banned from {action.room_name}; a room moderator "
                                                 "must lift the ban first")
            wait = self._last_invite + self._spacing - self._clock()
            if wait > 0:
                await self._sleep(wait)
            try:
                await self._call(lambda c: c.room_invite(room_id, user_id), "invite")
            finally:
                self._last_invite = self._clock()
            return "invited"

    async def remove(self, action: PlannedAction) -> None:
        room_id, user_id = action.room.chat_id, action.identity.user_id
        async with self._lock:
            if await self.membership(room_id, user_id) not in ("join", "invite", "knock"):
                return
            try:
                # The admin's reason where given: it is what the person is shown.
                reason = action.note or action.reason or None
                await self._call(lambda c: c.room_kick(room_id, user_id, reason=reason), "kick")
            except PermanentFailure:
                if await self.membership(room_id, user_id) not in ("join", "invite", "knock"):
                    return  # they left between the look and the kick
                raise

    async def remove_message(self, chat: ChatRef, message_id: str, reason: str) -> None:
        """bot.actions.membership.RoomAdmin: a redaction. Synapse allows it to a member whose power
        reaches the room's `redact` level (moderator, 50, by default); below it, M_FORBIDDEN. A copy the
        bot sent with photos or files loses them too, first (media.redact_files: its own events); one
        known by its photo, its text never sent, loses every event recorded of it (as Telegram deletes
        every message of such a copy)."""
        def request(make: Callable[[AsyncClient], Awaitable[Any]], ok: type, what: str) -> Awaitable[Any]:
            return self._call(make, what)

        try:
            parts = await self._parts_of(message_id) if self._parts_of is not None else ()
            if not known_by_text(message_id, parts):
                await media.redact_events(request, chat.chat_id, parts, reason)
                return
            await media.redact_files(request, self._client().user_id, chat.chat_id, message_id, reason)
            await self._call(lambda c: c.room_redact(chat.chat_id, message_id, reason=reason), "redact")
        except PlatformError as error:  # by the Matrix code, as membership() reads it
            if error.code == "M_FORBIDDEN":
                raise PermanentFailure("not-allowed", f"the bot may not redact in {chat.chat_id}") from error
            if error.code == "M_NOT_FOUND":
                return  # gone already
            raise

    async def leave_chat(self, chat: ChatRef) -> None:
        """bot.actions.removal: the bot leaves a removed person's direct chat (its history stays theirs)."""
        try:
            await self._call(lambda c: c.room_leave(chat.chat_id), "leave")
        except PlatformError as error:
            if error.code in ("M_NOT_FOUND", "M_FORBIDDEN"):
                return  # not in it (any more): nothing to leave
            raise
