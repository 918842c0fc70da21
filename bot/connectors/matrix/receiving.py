"""What a Matrix sync batch becomes: inbox messages (the sync round itself is in connector.py).

One sync loop; every sync passes `since` from the bot's database, never nio's memory or store. After
nio has decrypted a batch, its texts and reactions go to the inbox together with the batch's
`next_batch` as the cursor "matrix.cursor", in one transaction (`ingest`); only then does the loop
move on. A crash anywhere before that commit means the same batch is fetched again, and the inbox
(unique on platform and event id) keeps each event once. When a sync's timeline was cut short
(`limited`), the gap back to the previous token is read with /messages, so nothing in between is
lost. On the very first start (no cursor) the initial sync's token is stored and its timeline is not
read: what was said before the bot arrived is not replayed as commands. The same holds in a room the
bot joins later: only events after its own join count, except in a direct chat a directory contact
opened with the bot: there the inviter's messages since the room was created are taken too (many
clients send the first message with the new room, before the bot could join).

What is recorded: texts that are commands (they begin with / or !); replies and thread replies to a
delivered item, as "/reply REF text" (with the quoted reply fallback removed); reactions ✅ 👍 ✔️ ☑️
by the delivery's recipient on a delivered item, as "/ack REF". Ordinary conversation is never stored.

An event the bot cannot decrypt yet is kept (undecrypted.json) and its room key requested; it is
tried again after every sync, and given up after a day.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from nio import MegolmEvent, MessageDirection, RoomMessagesResponse, SyncResponse

from alerts.identity import ChatRef, MessageRef, UserRef
from alerts.messages import InboundMessage
from bot.connectors.matrix import media
from bot.connectors.matrix.core import ConnectorCore
from bot.connectors.matrix.errors import from_response
from bot.connectors.matrix.files import write_json
from bot.connectors.matrix.inbound import MatrixReaction, MatrixText, read_event, reply_command
from bot.connectors.matrix.model import TIMELINE_TYPES

log = logging.getLogger(__name__)

UNDECRYPTED_KEEP_SECONDS = 24 * 3600
PRE_JOIN_PAGES = 5  # of 100 events: how far back a new direct chat is read for messages before the join


class Receiving(ConnectorCore):
    async def _collect(self, response: SyncResponse, since: str) -> list[InboundMessage]:
        messages: list[InboundMessage] = []
        pending_changed = False
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            joined_here = _own_join_index(events, self._user_id)
            if joined_here is not None:
                before, events = events[:joined_here], events[joined_here + 1:]
                events = await self._before_join(room_id, before, info.timeline) + events
            elif info.timeline.limited and info.timeline.prev_batch:
                older = await self._backfill(room_id, info.timeline.prev_batch, since)
                log.info("Matrix: filled a gap of %d events in %s", len(older), room_id)
                events = older + events
            for event in events:
                if isinstance(event, MegolmEvent):
                    pending_changed |= await self._hold_undecrypted(event, room_id)
                    continue
                source = getattr(event, "source", None)
                if isinstance(source, dict):
                    message = await self._inbound(source, room_id)
                    if message is not None:
                        messages.append(message)
        if pending_changed:
            write_json(self._paths.undecrypted, self._undecrypted)
        return messages

    async def _backfill(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """The events between `since` and a limited timeline's start, oldest first."""
        assert self.client is not None
        found: list[Any] = []
        start = prev_batch
        while True:
            response = await self.client.room_messages(room_id, start=start, end=since,
                                                       direction=MessageDirection.back, limit=100,
                                                       message_filter={"types": TIMELINE_TYPES})
            if not isinstance(response, RoomMessagesResponse):
                raise from_response(response, "messages")
            for event in response.chunk:  # newest first
                if _is_own_join(getattr(event, "source", {}), self._user_id):
                    return list(reversed(found))
                found.append(event)
            if not response.chunk or not response.end or response.end == start:
                return list(reversed(found))
            start = response.end

    async def _before_join(self, room_id: str, before: list[Any], timeline: Any) -> list[Any]:
        """In a direct chat a directory contact opened with the bot, the inviter's events from before
        the bot's join, back to the room's creation; elsewhere none (no replay of old commands)."""
        inviter = self._direct_inviters.get(room_id) or _direct_inviter(before, self._user_id)
        if inviter is None:
            return []
        if timeline.limited and timeline.prev_batch and not any(_is_create(e) for e in before):
            before = await self._since_creation(room_id, timeline.prev_batch) + before
        self._direct_inviters.pop(room_id, None)  # only now: a failed read is done again with the sync
        taken = [e for e in before if getattr(e, "sender", None) == inviter
                 and (getattr(e, "source", None) or {}).get("type") in ("m.room.message", "m.room.encrypted")]
        if taken:
            log.info("Matrix: %d message(s) in direct chat %s predate the bot's join; taken", len(taken), room_id)
        return taken

    async def _since_creation(self, room_id: str, prev_batch: str) -> list[Any]:
        """The room's events before `prev_batch`, back to its creation (at most PRE_JOIN_PAGES pages), oldest first."""
        assert self.client is not None
        found: list[Any] = []
        start = prev_batch
        for _ in range(PRE_JOIN_PAGES):
            response = await self.client.room_messages(room_id, start=start, direction=MessageDirection.back,
                                                       limit=100, message_filter={"types": TIMELINE_TYPES})
            if not isinstance(response, RoomMessagesResponse):
                raise from_response(response, "messages")
            found.extend(response.chunk)  # newest first
            if any(_is_create(e) for e in response.chunk) or not response.chunk or not response.end \
                    or response.end == start:
                break
            start = response.end
        return list(reversed(found))

    async def _inbound(self, source: dict[str, Any], room_id: str) -> InboundMessage | None:
        if source.get("sender") == self._user_id:
            return None
        read = read_event(source, room_id)
        if read is None:  # a photo or file captioned with a command, or nothing for the bot
            return await media.inbound(self, source, room_id)
        try:
            sender = UserRef.parse(f"matrix:{read.sender}")
            chat = ChatRef.parse(f"matrix:{room_id}")
        except ValueError:
            return None
        if isinstance(read, MatrixReaction):
            return await self._reaction(read, sender, chat)
        return await self._text(read, sender, chat)

    async def _reaction(self, read: MatrixReaction, sender: UserRef, chat: ChatRef) -> InboundMessage | None:
        if not read.acknowledges or self._find_delivery is None:
            return None
        found = await self._find_delivery(read.target)
        if found is None:
            return None
        reference, contact_id = found
        contact = self._directory.current().contact_for(sender)
        if contact is None or contact.id != contact_id:
            return None  # somebody else's reaction on this delivery is not its recipient's acknowledgement
        return InboundMessage(read.event_id, sender, chat, f"/ack {reference}", read.at,
                              MessageRef(chat, read.target))

    async def _text(self, read: MatrixText, sender: UserRef, chat: ChatRef) -> InboundMessage | None:
        text, reply_to = read.text, None
        for target in read.targets:
            found = await self._find_delivery(target) if self._find_delivery else None
            if found is not None:
                text, reply_to = reply_command(found[0], read.text), MessageRef(chat, target)
                break
        if reply_to is None and read.targets:
            reply_to = MessageRef(chat, read.targets[-1])
        if not text.startswith(("/", "!")):
            return None  # ordinary conversation: never stored
        return InboundMessage(read.event_id, sender, chat, text, read.at, reply_to, message_id=read.event_id,
                              direct=self._direct_with(chat, read.sender))

    def _direct_with(self, chat: ChatRef, user_id: str) -> bool:
        """Whether the room is the sender's direct chat with the bot: an unregistered room holding
        (joined or invited) nobody but the two of them, as the sync shows it now. Unknown: shared."""
        room = self.client.rooms.get(chat.chat_id) if self.client is not None else None
        if room is None or self._directory.current().room(chat) is not None:
            return False
        return set(room.users) == {self._user_id, user_id}  # nio's users include the invited

    # events we could not decrypt yet

    async def _hold_undecrypted(self, event: MegolmEvent, room_id: str) -> bool:
        if event.sender == self._user_id or event.event_id in self._undecrypted:
            return False
        self._undecrypted[event.event_id] = {"room_id": room_id, "source": event.source, "seen": time.time()}
        log.warning("Matrix: cannot decrypt %s in %s yet; asking for its key", event.event_id, room_id)
        try:
            assert self.client is not None
            event.room_id = room_id
            await self.client.request_room_key(event)
        except Exception as exc:  # a request already in flight, or the sender's devices unknown yet
            log.debug("room key request for %s: %s", event.event_id, exc)
        return True

    async def _retry_undecrypted(self) -> list[InboundMessage]:
        if not self._undecrypted or self.client is None:
            return []
        messages, changed = [], False
        for event_id, held in list(self._undecrypted.items()):
            try:
                event = MegolmEvent.from_dict(held["source"])
                event.room_id = held["room_id"]
                decrypted = self.client.decrypt_event(event)
            except Exception:
                decrypted = None
            if decrypted is not None and not isinstance(decrypted, MegolmEvent) and isinstance(
                    getattr(decrypted, "source", None), dict):
                del self._undecrypted[event_id]
                changed = True
                message = await self._inbound(decrypted.source, held["room_id"])
                if message is not None:
                    messages.append(message)
            elif time.time() - float(held.get("seen", 0)) > UNDECRYPTED_KEEP_SECONDS:
                log.error("Matrix: gave up on %s in %s: its room key never came", event_id, held["room_id"])
                del self._undecrypted[event_id]
                changed = True
        if changed:
            write_json(self._paths.undecrypted, self._undecrypted)
        return messages


def _is_own_join(source: Any, user_id: str) -> bool:
    if not isinstance(source, dict) or source.get("type") != "m.room.member" or source.get("state_key") != user_id:
        return False
    if (source.get("content") or {}).get("membership") != "join":
        return False
    before = ((source.get("unsigned") or {}).get("prev_content") or {}).get("membership")
    return before != "join"  # a join, not a display name change


def _is_create(event: Any) -> bool:
    source = getattr(event, "source", None)
    return isinstance(source, dict) and source.get("type") == "m.room.create"


def _direct_inviter(events: Sequence[Any], user_id: str) -> str | None:
    """Who invited the bot into a direct chat, from the invite in the events before its join (the
    invite itself is gone from a sync fetched again after a restart)."""
    for event in reversed(events):
        source = getattr(event, "source", None)
        if not isinstance(source, dict) or source.get("type") != "m.room.member" or source.get("state_key") != user_id:
            continue
        content = source.get("content") or {}
        if content.get("membership") == "invite":
            return source.get("sender") if content.get("is_direct") else None
    return None


def _own_join_index(events: Sequence[Any], user_id: str) -> int | None:
    for index in range(len(events) - 1, -1, -1):
        if _is_own_join(getattr(events[index], "source", None), user_id):
            return index
    return None
